"""Serving speed of exported SavedModels: this project's text and ids signatures against a
keras-hub AlbertBackbone classifier exported with `model.export`.

Each model is exported (random weights, ALBERT-base shape, 2 classes), then loaded in a
fresh process that imports only TensorFlow and tensorflow-text, as a model server would.
Reported per signature: batch-1 latency p50/p99 over --calls requests and batch-32
throughput, every request padded or written to fill --seq tokens. With --rounds=R the
three models are measured R times in turn (ours ids, ours text, keras-hub, ours ids, ...)
so that drifts of the machine hit all of them alike; the table shows each round and the
summary the median over rounds. Run by hand:

    .venv/bin/python benchmarks/bench_serve.py
    .venv/bin/python benchmarks/bench_serve.py --precisions=float32,bfloat16 --calls=100
    .venv/bin/python benchmarks/bench_serve.py --rounds=3 --calls=50 --batch_calls=2
"""

import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

flags.DEFINE_string("preset", "base", "Model size.")
flags.DEFINE_integer("seq", 128, "Tokens per request.")
flags.DEFINE_integer("calls", 100, "Batch-1 requests timed per signature.")
flags.DEFINE_integer("batch", 32, "Throughput batch size.")
flags.DEFINE_integer("batch_calls", 10, "Batched requests timed per signature.")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "Compute precision of the exports.")
flags.DEFINE_integer("rounds", 1, "Times each model is measured, interleaved.")

SERVE = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401
path, signature, inputs_1, inputs_n, calls, batch_calls = json.load(sys.stdin)
function = tf.saved_model.load(path).signatures[signature]
def tensors(inputs):
    return {k: tf.constant(v, tf.string if isinstance(v[0], str) else tf.int32)
            for k, v in inputs.items()}
one, many = tensors(inputs_1), tensors(inputs_n)
for _ in range(5):
    function(**one); function(**many)
latencies = []
for _ in range(calls):
    start = time.perf_counter()
    [v.numpy() for v in function(**one).values()]
    latencies.append(time.perf_counter() - start)
start = time.perf_counter()
for _ in range(batch_calls):
    [v.numpy() for v in function(**many).values()]
seconds = time.perf_counter() - start
rows = len(next(iter(inputs_n.values())))
print(json.dumps({"p50_ms": 1e3 * float(np.percentile(latencies, 50)),
                  "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
                  "sequences_per_second": rows * batch_calls / seconds}))
"""


def export_ours(config, spm_model, precision, folder):
    from albert_tf.data.tokenization import AlbertTokenizer
    from albert_tf.export.saved_model import ServingModule, export_saved_model
    from albert_tf.models import AlbertClassifier

    dtype = "float32" if precision == "float32" else "mixed_bfloat16"
    model = AlbertClassifier(config, 2, dropout_rate=0.0, dtype=dtype)
    module = ServingModule(model, AlbertTokenizer(spm_model), flags.FLAGS.seq, ["0", "1"])
    return export_saved_model(module, folder, f"ours_{precision}")


def export_keras_hub(config, precision, folder):
    import keras
    import keras_hub

    dtype = "float32" if precision == "float32" else "mixed_bfloat16"
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        max_sequence_length=config.max_position_embeddings, dtype=dtype)
    logits = keras.layers.Dense(2, dtype=dtype)(backbone.output["pooled_output"])
    model = keras.Model(backbone.input, keras.layers.Activation("linear", dtype="float32")(
        logits))
    path = os.path.join(folder, f"keras_hub_{precision}")
    model.export(path, format="tf_saved_model", verbose=False)
    return path


def main(_):
    import numpy as np

    from albert_tf.config import AlbertConfig
    from albert_tf.data.tokenization import AlbertTokenizer, train_sentencepiece
    from tests.text_corpus import write_corpus

    values = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="bench_serve-")
    corpus = write_corpus(os.path.join(folder, "corpus.txt"), 300, seed=3)
    spm_model = train_sentencepiece([corpus], os.path.join(folder, "spm"), vocab_size=4000)
    config = AlbertConfig.from_preset(values.preset)
    tokenizer = AlbertTokenizer(spm_model)
    with open(corpus, encoding="utf-8") as handle:
        words = handle.read().split()
    # Texts long enough to fill seq tokens after truncation.
    texts = [" ".join(words[i * 200:(i + 1) * 200]) for i in range(values.batch)]
    assert all(len(tokenizer.encode(text)) >= values.seq for text in texts)
    rng = np.random.default_rng(0)
    ids = rng.integers(5, tokenizer.vocab_size, (values.batch, values.seq)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    ours_ids = {"input_ids": ids, "input_mask": np.ones_like(ids),
                "segment_ids": np.zeros_like(ids)}
    hub_ids = {"token_ids": ids, "padding_mask": np.ones_like(ids),
               "segment_ids": np.zeros_like(ids)}
    print(f"preset {values.preset}, seq {values.seq}; batch-1 latency over {values.calls} "
          f"calls, batch-{values.batch} throughput over {values.batch_calls} calls; "
          f"cpus={os.cpu_count()}", flush=True)
    print(f"{'model':<28} {'p50 ms':>8} {'p99 ms':>8} {'seq/s @' + str(values.batch):>10}",
          flush=True)
    results = {}
    for precision in values.precisions:
        ours = export_ours(config, spm_model, precision, folder)
        hub = export_keras_hub(config, precision, folder)
        models = ((f"ours {precision} serve_ids", ours, "serve_ids", ours_ids),
                  (f"ours {precision} text", ours, "serving_default", {"text_a": texts}),
                  (f"keras_hub {precision} ids", hub, "serve", hub_ids))
        for name, path, signature, inputs in models * values.rounds:
            batch = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in inputs.items()}
            single = {k: v[:1] for k, v in batch.items()}
            done = subprocess.run(
                [sys.executable, "-c", SERVE],
                input=json.dumps([path, signature, single, batch, values.calls,
                                  values.batch_calls]),
                capture_output=True, text=True)
            if done.returncode:
                print(f"{name}: failed\n{done.stderr[-1500:]}", flush=True)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(name, []).append(row)
            print(f"{name:<28} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                  f"{row['sequences_per_second']:>10.1f}", flush=True)
    medians = {name: {key: float(np.median([row[key] for row in rows])) for key in rows[0]}
               for name, rows in results.items()}
    for precision in values.precisions:
        ours, hub = (medians.get(f"ours {precision} serve_ids"),
                     medians.get(f"keras_hub {precision} ids"))
        if ours and hub:
            print(f"{precision}: ours/keras_hub throughput {ours['sequences_per_second'] / hub['sequences_per_second']:.2f}x, "
                  f"p50 latency {ours['p50_ms'] / hub['p50_ms']:.2f}x")


if __name__ == "__main__":
    app.run(main)
