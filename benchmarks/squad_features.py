"""Question-answering features on the shared data: creation speed (examples/s) and the
oracle-alignment figures (logits peaked on each first gold answer, through the
post-processing, scored by the official metrics), with every miss listed.

    .venv/bin/python benchmarks/squad_features.py

SQuAD v1.1 dev uses a SentencePiece model trained on the shared SQuAD text (1,000
pieces); CMRC 2018 dev the released Chinese WordPiece vocabulary.
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from absl import app, flags, logging  # noqa: E402

from albert_tf.data.squad import convert_examples, read_squad  # noqa: E402
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece  # noqa: E402
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer  # noqa: E402
from albert_tf.training.squad_metrics import evaluate_cmrc, evaluate_v1  # noqa: E402
from tests.helpers import SHARED_DATA  # noqa: E402
from tests.test_squad_data import golds_of, oracle_predictions  # noqa: E402

flags.DEFINE_integer("max_seq_length", 384, "Sequence length (the original's default).")
flags.DEFINE_integer("doc_stride", 128, "Window stride (the original's default).")
flags.DEFINE_integer("max_query_length", 64, "Question tokens kept (the original's default).")


def squad_tokenizer(folder):
    lines = []
    for name in ("train-v1.1.json", "dev-v1.1.json", "train-v2.0.json", "dev-v2.0.json"):
        with open(os.path.join(SHARED_DATA, "squad", name), encoding="utf-8") as handle:
            for article in json.load(handle)["data"]:
                for paragraph in article["paragraphs"]:
                    lines.append(paragraph["context"])
                    lines += [qa["question"] for qa in paragraph["qas"]]
    corpus = os.path.join(folder, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return AlbertTokenizer(train_sentencepiece([corpus], os.path.join(folder, "spm"),
                                               vocab_size=1000))


def measure(name, path, tokenizer, evaluate, values):
    examples, stats = read_squad(path, is_training=True)
    started = time.perf_counter()
    features = convert_examples(examples, tokenizer, values.max_seq_length, values.doc_stride,
                                values.max_query_length, is_training=True)
    seconds = time.perf_counter() - started
    predictions = oracle_predictions(examples, features)
    golds = golds_of(path)
    scored = evaluate({qas_id: golds[qas_id] for qas_id in predictions}, predictions)
    misses = [(e.qas_id, e.answers[0], predictions[e.qas_id]) for e in examples
              if predictions[e.qas_id] != e.answers[0]]
    print(f"| {name} | {len(examples)} ({stats.answer_text_mismatch} skipped: answer not at "
          f"answer_start) | {len(features)} | {seconds:.2f} | {len(examples) / seconds:.0f} | "
          f"{scored['exact_match']:.2f} | {len(misses)} |", flush=True)
    return misses


def main(_):
    logging.set_verbosity(logging.ERROR)
    values = flags.FLAGS
    print(f"max_seq_length={values.max_seq_length}, doc_stride={values.doc_stride}, "
          f"max_query_length={values.max_query_length}, cpus={os.cpu_count()}")
    print("| data | questions | features | seconds | examples/s | oracle EM | misses |")
    print("|---|---|---|---|---|---|---|")
    misses = measure("SQuAD v1.1 dev (SentencePiece)",
                     os.path.join(SHARED_DATA, "squad", "dev-v1.1.json"),
                     squad_tokenizer(tempfile.mkdtemp()), evaluate_v1, values)
    misses += measure("CMRC 2018 dev (WordPiece)",
                      os.path.join(SHARED_DATA, "cmrc2018", "cmrc2018_dev.json"),
                      WordPieceTokenizer(os.path.join(SHARED_DATA, "chinese", "vocab.txt")),
                      evaluate_cmrc, values)
    for qas_id, gold, predicted in misses:
        print(f"miss {qas_id}: gold {gold!r}, oracle {predicted!r}")


if __name__ == "__main__":
    app.run(main)
