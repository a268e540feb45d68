"""Pretraining (masked LM + sentence-order prediction): `settings` (the run_pretraining
flags, TensorFlow-free), `task` (the `Task` the loop runs) and `serving` (the encoder's
export)."""
