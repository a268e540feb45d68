"""Multiple choice (RACE): `settings` (the run_race flags, TensorFlow-free), `task` (the
`Task` the loop runs) and `serving` (the raw-text export)."""
