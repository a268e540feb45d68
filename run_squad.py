"""Runs albert_tf/scripts/run_squad.py
(installed as the `albert-squad` command); `--help` lists its flags."""

from albert_tf.scripts.run_squad import run

if __name__ == "__main__":
    run()
