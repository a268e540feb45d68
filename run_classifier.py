"""Runs albert_tf/scripts/run_classifier.py
(installed as the `albert-classify` command); `--help` lists its flags."""

from albert_tf.scripts.run_classifier import run

if __name__ == "__main__":
    run()
