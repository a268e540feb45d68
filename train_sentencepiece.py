"""Runs albert_tf/scripts/train_sentencepiece.py
(installed as the `albert-train-spm` command); `--help` lists its flags."""

from albert_tf.scripts.train_sentencepiece import run

if __name__ == "__main__":
    run()
