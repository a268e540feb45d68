"""Runs albert_tf/scripts/create_pretraining_data.py
(installed as the `albert-create-pretraining-data` command); `--help` lists its flags."""

from albert_tf.scripts.create_pretraining_data import run

if __name__ == "__main__":
    run()
