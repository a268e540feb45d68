"""Run folders and checkpoints: the layout of a run folder, warm starts, and conversion of
original (TF1) and Hugging Face checkpoints. Used by training/ and export/ alike."""
