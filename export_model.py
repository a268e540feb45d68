"""Runs albert_tf/scripts/export_model.py
(installed as the `albert-export` command); `--help` lists its flags."""

from albert_tf.scripts.export_model import run

if __name__ == "__main__":
    run()
