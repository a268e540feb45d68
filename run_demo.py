"""Runs albert_tf/scripts/run_demo.py
(installed as the `albert-demo` command); `--help` lists its flags."""

from albert_tf.scripts.run_demo import run

if __name__ == "__main__":
    run()
