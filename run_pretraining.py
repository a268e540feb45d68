"""Runs albert_tf/scripts/run_pretraining.py
(installed as the `albert-pretrain` command); `--help` lists its flags."""

from albert_tf.scripts.run_pretraining import run

if __name__ == "__main__":
    run()
