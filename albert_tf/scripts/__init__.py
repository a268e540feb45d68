"""The entry scripts (absl flags parsed here and passed to the library as plain values).

Each module is a console command (setup.py) and runs as `python -m albert_tf.scripts.<name>`;
the top-level `<name>.py` files of a checkout are thin wrappers around them, so installing
the package adds commands (`albert-pretrain`, `albert-classify`, ...) but no top-level
module that could clash with another project's `run_classifier` or `export_model`.

Only these modules read absl's global FLAGS; importing two of them in one process would
define their shared flags twice, so the library never imports them.
"""
