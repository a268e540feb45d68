"""Serving speed on real text: this project's exported `serving_default` against keras-hub
and Hugging Face transformers, each through its own text path.

Texts: the SST-2 dev sentences (872) and the ChnSentiCorp dev reviews (1,200) as raw
strings. Models: ALBERT-base shape (random weights, 2 classes), the vocabulary of each
dataset's tokenizer: a SentencePiece model trained on the SST-2 training sentences, the
released Chinese WordPiece vocab.txt for ChnSentiCorp.

- ours: `run_classifier`'s export (`ServingModule`): raw text tokenized, packed and
  classified in the graph, padded to the request's longest text (at most --seq).
- keras_hub: its text path, `AlbertTokenizer` (SentencePiece; `BertTokenizer` for the
  Chinese vocabulary, which keras-hub's ALBERT tokenizer cannot read) +
  `AlbertTextClassifierPreprocessor` (pads to --seq) + `AlbertBackbone` + a dense head,
  exported as one raw-text SavedModel with `keras.export.ExportArchive`.
- hf_torch: `AlbertTokenizerFast` / `BertTokenizerFast` (padding to the longest,
  truncating at --seq) + `AlbertForSequenceClassification` on CPU PyTorch, in the peers'
  interpreter (`peers.py`, `hf_peer.py`).

The SavedModels are loaded in fresh processes that import only TensorFlow and
tensorflow-text, as a model server would. Per system and precision (--precisions: ours and
keras-hub export mixed_bfloat16 for bfloat16, Hugging Face runs under bfloat16 autocast):
batch-1 latency p50/p99 over --calls requests (the texts in turn) and the throughput of
the whole dev set in batches of --batch. With --rounds=R every system and precision is
measured R times in turn so that drifts of the machine hit all alike; the summary takes
the median, and compares each system at its best precision (the configuration a user
would pick). The CPU flags and the matmul peak are measured in the same run. Run by hand:

    .venv/bin/python benchmarks/bench_serve.py
    .venv/bin/python benchmarks/bench_serve.py --datasets=sst2 --systems=ours,keras_hub
"""

import json
import os
import platform
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")

flags.DEFINE_string("shared_dir", SHARED, "The shared data folder.")
flags.DEFINE_list("datasets", ["sst2", "chnsenticorp"], "sst2 and/or chnsenticorp.")
flags.DEFINE_list("systems", ["ours", "ours_sub", "keras_hub", "hf_torch"],
                  "What to measure (ours_sub: ours with --sub_batch_size sub-batches).")
flags.DEFINE_integer("sub_batch_size", 8, "ours_sub: rows per sub-batch.")
flags.DEFINE_string("preset", "base", "Model size.")
flags.DEFINE_integer("seq", 128, "max_seq_length: longer texts are truncated.")
flags.DEFINE_integer("calls", 100, "Batch-1 requests timed per system.")
flags.DEFINE_integer("batch", 32, "Throughput batch size.")
flags.DEFINE_integer("throughput_texts", 0, "Dev texts timed for throughput (their order in "
                     "the dev file); 0: all.")
flags.DEFINE_list("precisions", ["float32"], "Compute precisions (float32, bfloat16: "
                  "ours and keras-hub mixed_bfloat16, Hugging Face bfloat16 autocast).")
flags.DEFINE_integer("rounds", 1, "Times each system is measured, interleaved.")
flags.DEFINE_integer("timeout", 1800, "Seconds one system's measurement may take (a "
                     "bfloat16 cell on a CPU without bfloat16 instructions can take hours).")
flags.DEFINE_string("peers_python", "", "hf_torch: an interpreter with torch and "
                    "transformers (default: .venv-peers/, created on first use).")

SERVE = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
sys.path.insert(0, %r)
from serve_timing import time_serving
path, signature, argument, texts, calls, batch = json.load(sys.stdin)
function = tf.saved_model.load(path).signatures[signature]
def predict(chunk):
    return [v.numpy() for v in function(**{argument: tf.constant(chunk)}).values()]
print(json.dumps(time_serving(predict, texts, calls, batch)))
""" % os.path.dirname(os.path.abspath(__file__))


def dataset_texts(name, shared, folder):
    """(dev texts, tokenizer files {spm_model_file or vocab_file})."""
    from albert_tf.data.glue import get_task
    from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece

    if name == "sst2":
        data = os.path.join(shared, "glue", "SST-2")
        task = get_task("SST-2")
        corpus = os.path.join(folder, "sst2_train_sentences.txt")
        with open(corpus, "w", encoding="utf-8") as handle:
            handle.writelines(example.text_a + "\n" for example in task.read(data, "train"))
        files = {"spm_model_file": train_sentencepiece([corpus], os.path.join(folder, "spm"),
                                                       vocab_size=8000)}
    elif name == "chnsenticorp":
        data = os.path.join(shared, "chnsenticorp")
        task = get_task("chnsenticorp")
        files = {"vocab_file": os.path.join(shared, "chinese", "vocab.txt")}
    else:
        raise SystemExit(f"bench_serve: --datasets: unknown {name!r} (sst2, chnsenticorp)")
    return [example.text_a for example in task.read(data, "dev")], files


def export_ours(config, tokenizer, precision, seq, path, sub_batch_size=0):
    from albert_tf.export.saved_model import ServingModule, export_saved_model
    from albert_tf.models import AlbertClassifier

    dtype = "float32" if precision == "float32" else "mixed_bfloat16"
    model = AlbertClassifier(config, 2, dropout_rate=0.0, dtype=dtype)
    module = ServingModule(model, tokenizer, seq, ["0", "1"], sub_batch_size=sub_batch_size)
    return export_saved_model(module, os.path.dirname(path), os.path.basename(path))


def export_keras_hub(config, files, precision, seq, path):
    """keras-hub's raw-text classifier as one SavedModel: strings [batch] -> logits."""
    import keras
    import keras_hub
    import tensorflow as tf

    dtype = "float32" if precision == "float32" else "mixed_bfloat16"
    if files.get("spm_model_file"):
        tokenizer = keras_hub.models.AlbertTokenizer(proto=files["spm_model_file"])
    else:
        tokenizer = keras_hub.models.BertTokenizer(vocabulary=files["vocab_file"],
                                                   lowercase=True)
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(tokenizer,
                                                                     sequence_length=seq)
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        max_sequence_length=config.max_position_embeddings, dropout=0.0, dtype=dtype)
    classifier = keras_hub.models.AlbertTextClassifier(backbone, 2, preprocessor=None,
                                                       dropout=0.0)
    classifier(preprocessor(tf.constant(["build"])))  # ExportArchive needs built layers
    archive = keras.export.ExportArchive()
    archive.track(classifier)
    archive.track(preprocessor)
    archive.add_endpoint(
        "serving_default",
        lambda text: {"logits": tf.cast(classifier(preprocessor(text), training=False),
                                        tf.float32)},
        input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    archive.write_out(path, verbose=False)
    return path


def measure_saved_model(path, argument, texts, values):
    try:
        done = subprocess.run([sys.executable, "-c", SERVE],
                              input=json.dumps([path, "serving_default", argument, texts,
                                                values.calls, values.batch]),
                              capture_output=True, text=True, timeout=values.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in --timeout={values.timeout} s"}
    if done.returncode:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def dataset_measures(name, values, folder):
    """(system, precision) -> a function measuring it once, for one dataset."""
    from albert_tf.config import AlbertConfig
    from albert_tf.data.tokenizers import load_tokenizer
    from benchmarks.peers import peers_python, run_hf_peer

    texts, files = dataset_texts(name, values.shared_dir, folder)
    texts = texts[:values.throughput_texts or None]
    tokenizer = load_tokenizer(**files)
    config = AlbertConfig.from_preset(values.preset, vocab_size=tokenizer.vocab_size)
    measures = {}
    for precision in values.precisions:
        for system, sub_batch_size in (("ours", 0), ("ours_sub", values.sub_batch_size)):
            if system in values.systems:
                path = export_ours(config, tokenizer, precision, values.seq,
                                   os.path.join(folder, f"{name}_{system}_{precision}"),
                                   sub_batch_size)
                measures[system, precision] = lambda path=path: measure_saved_model(
                    path, "text_a", texts, values)
        if "keras_hub" in values.systems:
            path = export_keras_hub(config, files, precision, values.seq,
                                    os.path.join(folder, f"{name}_hub_{precision}"))
            measures["keras_hub", precision] = lambda path=path: measure_saved_model(
                path, "text", texts, values)
        if "hf_torch" in values.systems:
            request = {"job": "serve", "config": config.to_dict(), "tokenizer": files,
                       "texts": texts, "max_seq_length": values.seq,
                       "precision": precision, "calls": values.calls,
                       "batch": values.batch}
            python = peers_python(values.peers_python)
            measures["hf_torch", precision] = lambda request=request: run_hf_peer(
                python, request, timeout=values.timeout)
    return measures


def best(medians, name, system):
    """(precision, row) of `system`'s highest batch throughput on `name`."""
    rows = [(precision, row) for (dataset, other, precision), row in medians.items()
            if dataset == name and other == system]
    return max(rows, key=lambda item: item[1]["sequences_per_second"], default=(None, None))


def main(_):
    import numpy as np

    from benchmarks.machine import cpu_flags, matmul_peak

    values = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="bench_serve-")
    print(f"cpu flags: {cpu_flags()}; float32 matmul peak "
          f"{matmul_peak() / 1e9:.1f} GFLOP/s", flush=True)
    print(f"preset {values.preset}, max_seq_length {values.seq}; batch-1 latency over "
          f"{values.calls} requests, batch-{values.batch} throughput over the dev set; "
          f"{platform.machine()}, cpus={os.cpu_count()}", flush=True)
    print(f"{'dataset':<13} {'system':<10} {'precision':<9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'seq/s @' + str(values.batch):>10}", flush=True)
    medians = {}
    for name in values.datasets:
        measures = dataset_measures(name, values, folder)
        rows = {}
        # Every system and precision in turn, round after round: drifts of the machine
        # hit all alike.
        for _ in range(values.rounds):
            for (system, precision), measure in measures.items():
                row = measure()
                if "error" in row:
                    print(f"{name} {system} {precision}: failed\n{row['error']}", flush=True)
                    continue
                rows.setdefault((system, precision), []).append(row)
                print(f"{name:<13} {system:<10} {precision:<9} {row['p50_ms']:>8.1f} "
                      f"{row['p99_ms']:>8.1f} {row['sequences_per_second']:>10.1f}",
                      flush=True)
        for (system, precision), measured in rows.items():
            medians[name, system, precision] = {
                key: float(np.median([row[key] for row in measured]))
                for key in ("p50_ms", "p99_ms", "sequences_per_second")}
        # Each system at the configuration a user would pick: its best throughput.
        for mine in ("ours", "ours_sub"):
            mine_precision, ours = best(medians, name, mine)
            for peer in ("keras_hub", "hf_torch"):
                peer_precision, other = best(medians, name, peer)
                if ours and other:
                    lowest = min(row["p50_ms"] for (dataset, system, _), row
                                 in medians.items() if dataset == name and system == peer)
                    speed = ours["sequences_per_second"] / other["sequences_per_second"]
                    print(f"{name}: {mine} {mine_precision} / {peer} {peer_precision}: "
                          f"throughput {speed:.2f}x, p50 latency "
                          f"{ours['p50_ms'] / other['p50_ms']:.2f}x of theirs (their "
                          f"lowest p50 over precisions: {lowest:.1f} ms)", flush=True)
    print(json.dumps({" ".join(key): row for key, row in medians.items()}), flush=True)


if __name__ == "__main__":
    app.run(main)
