"""Extractive question answering (SQuAD v1.1/v2.0, CMRC 2018): `settings` (the run_squad
flags, TensorFlow-free), `task` (the `Task` the loop runs) and `serving` (the raw-text
question-answering export)."""
