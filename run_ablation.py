"""Runs albert_tf/scripts/run_ablation.py
(installed as the `albert-ablation` command); `--help` lists its flags."""

from albert_tf.scripts.run_ablation import run

if __name__ == "__main__":
    run()
