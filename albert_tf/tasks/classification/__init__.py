"""Sentence(-pair) classification and regression (GLUE, CLUE, your own TSV/CSV):
`settings` (the run_classifier flags, TensorFlow-free), `task` (the `Task` the loop runs)
and `serving` (the raw-text classifier export)."""
