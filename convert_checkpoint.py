"""Runs albert_tf/scripts/convert_checkpoint.py
(installed as the `albert-convert` command); `--help` lists its flags."""

from albert_tf.scripts.convert_checkpoint import run

if __name__ == "__main__":
    run()
