"""A small ALBERT trained from scratch (no pretraining; or from a pretraining run with
--init_checkpoint) on the shared RACE-format set, then evaluated on its dev questions:
accuracy overall and per level against chance (0.25).

The set (`../shared/data/race_format/`) is built from SQuAD paragraphs in RACE's layout,
269 training and 323 dev questions: it is not RACE, and its numbers say nothing about
RACE's. Trains a SentencePiece model on the training articles, questions and options,
then runs `run_race`'s library path (cache, train, evaluate every --save_steps, keep the
best). Run by hand:

    .venv/bin/python benchmarks/race_from_scratch.py
"""

import glob
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data", "race_format")

flags.DEFINE_string("data_dir", SHARED, "A RACE-layout folder with train/ and dev/.")
flags.DEFINE_string("output_dir", None, "Run folder (default: a new temporary folder).")
flags.DEFINE_integer("steps", 800, "Training steps.")
flags.DEFINE_integer("batch_size", 16, "Questions per step (4 packed rows each).")
flags.DEFINE_integer("max_seq_length", 64, "Packed length of each option.")
flags.DEFINE_integer("max_qa_length", 32, "Tokens kept of question+option.")
flags.DEFINE_float("learning_rate", 5e-4, "Peak learning rate.")
flags.DEFINE_float("dropout", 0.0, "Dropout before the output layer.")
flags.DEFINE_integer("evaluations", 4, "Dev evaluations spread over the run.")
flags.DEFINE_integer("vocab_size", 2000, "SentencePiece vocabulary.")
flags.DEFINE_integer("hidden_size", 128, "Model width.")
flags.DEFINE_integer("num_hidden_layers", 4, "Layers (all sharing one block).")
flags.DEFINE_integer("seed", 1, "Seed.")
flags.DEFINE_string("init_checkpoint", None, "Start from this pretraining run folder instead "
                    "of from scratch (its albert_config.json and SentencePiece model are "
                    "used; BENCHMARKS.md says how it was made).")


def training_text(files, folder) -> str:
    """A text file of the training articles, questions and options (one per line)."""
    lines = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    lines += [record["article"], *record["questions"],
                              *(option for options in record["options"] for option in options)]
    corpus = os.path.join(folder, "race_train_text.txt")
    with open(corpus, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return corpus


def main(_):
    from albert_tf.config import AlbertConfig
    from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece
    from albert_tf.tasks.multiple_choice.task import RaceSettings, run
    from albert_tf.training.distribution import create_strategy

    values = flags.FLAGS
    logging.set_verbosity(logging.INFO)
    files = sorted(glob.glob(os.path.join(values.data_dir, "train", "*", "*.txt")))
    if not files:
        sys.exit(f"race_from_scratch: no {values.data_dir}/train/<level>/*.txt; pass --data_dir")
    folder = values.output_dir or tempfile.mkdtemp(prefix="race_from_scratch-")
    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    if values.init_checkpoint:  # the pretraining run's config and its tokenizer copy
        spm_model = None
        config = AlbertConfig.from_json_file(os.path.join(values.init_checkpoint,
                                                          "albert_config.json"))
    else:
        spm_model = train_sentencepiece([training_text(files, folder)],
                                        os.path.join(folder, "spm"),
                                        vocab_size=values.vocab_size)
        config = AlbertConfig(vocab_size=values.vocab_size, embedding_size=64,
                              hidden_size=values.hidden_size,
                              num_hidden_layers=values.num_hidden_layers,
                              num_attention_heads=2, intermediate_size=4 * values.hidden_size,
                              max_position_embeddings=max(128, values.max_seq_length),
                              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    every = max(1, values.steps // values.evaluations)
    settings = RaceSettings(
        output_dir=os.path.join(folder, "run"), albert_config=config,
        init_checkpoint=values.init_checkpoint,
        data_dir=values.data_dir, spm_model_file=spm_model,
        max_seq_length=values.max_seq_length, max_qa_length=values.max_qa_length,
        train_batch_size=values.batch_size, eval_batch_size=64,
        learning_rate=values.learning_rate, num_train_steps=values.steps,
        num_warmup_steps=values.steps // 10, save_checkpoints_steps=every,
        iterations_per_loop=min(every, 100), log_steps=min(every, 100),
        dropout_rate=values.dropout, precision="float32", seed=values.seed, do_eval=True)
    results = run(settings, create_strategy("one_device"))
    best = results["best"]
    print(f"dev accuracy {best['accuracy']:.4f} (middle {best['accuracy_middle']:.4f}, high "
          f"{best['accuracy_high']:.4f}) at step {best['step']} of {values.steps}; chance 0.25; "
          f"{best['examples']} questions")
    print(f"total {time.perf_counter() - start:.1f} s; run folder {settings.output_dir}")


if __name__ == "__main__":
    app.run(main)
