"""Runs albert_tf/scripts/analyze_model.py
(installed as the `albert-analyze` command); `--help` lists its flags."""

from albert_tf.scripts.analyze_model import run

if __name__ == "__main__":
    run()
