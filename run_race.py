"""Runs albert_tf/scripts/run_race.py
(installed as the `albert-race` command); `--help` lists its flags."""

from albert_tf.scripts.run_race import run

if __name__ == "__main__":
    run()
