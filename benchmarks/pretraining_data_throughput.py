"""Instances/s of create_pretraining_data against the original single-process design.

Both run on the same generated corpus with the same flags; the SentencePiece model is
trained on it first. Prints one line per run and the speed-up. Run by hand:

    .venv/bin/python benchmarks/pretraining_data_throughput.py --documents=1000 --dupe_factor=5
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

from albert_tf.data.pretraining_data import (PretrainingDataOptions,  # noqa: E402
                                             create_pretraining_data)
from albert_tf.data.tokenization import train_sentencepiece  # noqa: E402
from benchmarks import original_design  # noqa: E402
from tests.text_corpus import write_corpus  # noqa: E402

flags.DEFINE_integer("documents", 1000, "Documents in the generated corpus.")
flags.DEFINE_integer("dupe_factor", 5, "Passes over the corpus.")
flags.DEFINE_list("sentences_per_document", ["20", "80"],
                  "Range of sentences per document (Wikipedia articles run to dozens).")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Prediction slots.")
flags.DEFINE_integer("vocab_size", 8000, "SentencePiece vocabulary.")
flags.DEFINE_list("num_workers", ["1", "2"], "Worker counts to measure for albert_tf.")
flags.DEFINE_bool("baseline", True, "Also run the original design.")


def main(_):
    values = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="pretraining_data_bench-")
    sentences = tuple(map(int, values.sentences_per_document))
    corpus = [write_corpus(os.path.join(folder, f"part{i}.txt"), values.documents // 4, seed=i,
                           sentences=sentences) for i in range(4)]
    spm_model = train_sentencepiece(corpus, os.path.join(folder, "spm"),
                                    vocab_size=values.vocab_size)
    print(f"corpus: {values.documents} documents of {sentences[0]}-{sentences[1]} sentences, "
          f"{sum(os.path.getsize(p) for p in corpus) / 1e6:.1f} MB; max_seq_length="
          f"{values.max_seq_length}, max_predictions_per_seq={values.max_predictions_per_seq}, "
          f"dupe_factor={values.dupe_factor}, cpus={os.cpu_count()}")
    results = {}
    for workers in map(int, values.num_workers):
        options = PretrainingDataOptions(
            max_seq_length=values.max_seq_length,
            max_predictions_per_seq=values.max_predictions_per_seq,
            dupe_factor=values.dupe_factor)
        start = time.perf_counter()
        sidecar = create_pretraining_data(corpus, os.path.join(folder, f"ours-{workers}"),
                                          spm_model, options, num_workers=workers,
                                          num_output_shards=4)
        seconds = time.perf_counter() - start
        instances = sidecar["statistics"]["instances"]
        results[f"albert_tf, {workers} worker(s)"] = instances / seconds
        print(f"albert_tf num_workers={workers}: {instances} instances in {seconds:.1f}s = "
              f"{instances / seconds:.0f} instances/s "
              f"(masked fraction {sidecar['statistics']['masked_fraction']})")
    if values.baseline:
        start = time.perf_counter()
        instances, masked, real = original_design.run(
            corpus, os.path.join(folder, "original.tfrecord"), spm_model,
            values.max_seq_length, values.max_predictions_per_seq, values.dupe_factor)
        seconds = time.perf_counter() - start
        print(f"original design (1 process): {instances} instances in {seconds:.1f}s = "
              f"{instances / seconds:.0f} instances/s (masked fraction {masked / real:.4f})")
        for name, rate in results.items():
            print(f"speed-up of {name}: {rate / (instances / seconds):.1f}x")


if __name__ == "__main__":
    app.run(main)
