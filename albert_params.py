"""Runs albert_tf/scripts/albert_params.py
(installed as the `albert-params` command); `--help` lists its flags."""

from albert_tf.scripts.albert_params import run

if __name__ == "__main__":
    run()
