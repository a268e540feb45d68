"""Models that leave: export_model's Hugging Face, keras-hub and LiteRT formats checked
against the other libraries themselves, and the LiteRT size/latency/accuracy table.

1. Hugging Face round trips: transformers (in the peers' interpreter, `peers.py`) saves a
   random `AlbertForPreTraining` / `AlbertForSequenceClassification` /
   `AlbertForQuestionAnswering` (2 groups x 2 inner blocks); convert_checkpoint reads
   it, `write_hugging_face` writes it back; the two model.safetensors are compared tensor
   by tensor (bytes), and transformers loads ours (missing/unexpected keys, outputs).
2. Fine-tuned runs (run_classifier folders; SST-2 with a SentencePiece model, ChnSentiCorp
   with the Chinese WordPiece vocab): exported to each format and run there on the whole
   dev set: Hugging Face (its own tokenizer and its PyTorch model), keras-hub
   (`AlbertTextClassifier.from_preset`, its own preprocessor where it has one),
   SavedModel `serve_ids` (float32, and `--precision=mixed_bfloat16`: matmuls in
   bfloat16, weights stored in float32), LiteRT float32 and dynamic-range int8:
   accuracy, the largest logit difference from this project's model, file size and
   batch-1 p50 latency (each text packed to its own length, --latency_texts of them).

The CPU flags and the float32 matmul peak are measured in the same run. Run by hand:

    .venv/bin/python benchmarks/bench_exports.py --sst2_run=runs/sst2 \
        --chnsenticorp_run=runs/chnsenticorp
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")

flags.DEFINE_string("sst2_run", None, "A run_classifier folder fine-tuned on SST-2.")
flags.DEFINE_string("chnsenticorp_run", None, "A run_classifier folder fine-tuned on "
                    "ChnSentiCorp.")
flags.DEFINE_string("shared_dir", SHARED, "The shared data folder (the dev sets).")
flags.DEFINE_integer("latency_texts", 200, "Dev texts timed at batch 1.")
flags.DEFINE_string("peers_python", "", "The peers' interpreter (default: made by peers.py).")
flags.DEFINE_bool("round_trips", True, "Run the Hugging Face round trips.")
SYSTEMS = ("saved_model", "saved_model_bf16", "tflite", "hugging_face", "keras_hub")
flags.DEFINE_list("systems", list(SYSTEMS), f"What the fine-tuned runs are exported to: "
                  f"{', '.join(SYSTEMS)}.")

DEV_DIRS = {"SST-2": ("glue", "SST-2"), "ChnSentiCorp": ("chnsenticorp",)}
ROUND_TRIP_CONFIG = {"vocab_size": 500, "embedding_size": 64, "hidden_size": 128,
                     "num_hidden_layers": 4, "num_hidden_groups": 2, "inner_group_num": 2,
                     "num_attention_heads": 4, "intermediate_size": 256,
                     "max_position_embeddings": 64, "hidden_act": "gelu_new"}


def safetensors_bytes(path):
    from safetensors.numpy import load_file

    return {name: value.tobytes() for name, value in load_file(path).items()}


def round_trip(architecture, folder, python):
    """HF save_pretrained -> convert_checkpoint -> write_hugging_face: what differs."""
    from albert_tf.checkpoints.conversion import convert_checkpoint
    from albert_tf.checkpoints.hugging_face import write_hugging_face
    from albert_tf.checkpoints.warm_start import warm_start
    from albert_tf.config import AlbertConfig
    from albert_tf.models import AlbertClassifier, AlbertPretrainer
    from albert_tf.models.question_answering import AlbertQuestionAnswering
    from benchmarks.peers import run_hf_peer

    source = os.path.join(folder, f"hf_{architecture}")
    saved = run_hf_peer(python, {"job": "save_random", "architecture": architecture,
                                 "config": ROUND_TRIP_CONFIG, "folder": source, "seed": 1},
                        script="hf_export_peer.py")
    if "error" in saved:
        return {"architecture": architecture, "error": saved["error"]}
    ours = os.path.join(folder, f"ours_{architecture}")
    report = convert_checkpoint(source, ours)
    config = AlbertConfig.from_json_file(os.path.join(ours, "albert_config.json"))
    model = {"AlbertForPreTraining": lambda: AlbertPretrainer(config),
             "AlbertForSequenceClassification": lambda: AlbertClassifier(config, 2),
             "AlbertForQuestionAnswering": lambda: AlbertQuestionAnswering(config)
             }[architecture]()
    warm_start(ours, model, [(("model",), model)])
    back = os.path.join(folder, f"back_{architecture}")
    write_hugging_face(model, back)
    original = safetensors_bytes(os.path.join(source, "model.safetensors"))
    exported = safetensors_bytes(os.path.join(back, "model.safetensors"))
    rng = np.random.default_rng(0)
    ids = [[2, *rng.integers(5, 500, 12).tolist(), 3]]
    theirs = run_hf_peer(python, {"job": "load", "folder": source, "ids": ids},
                         script="hf_export_peer.py")
    loaded = run_hf_peer(python, {"job": "load", "folder": back, "ids": ids},
                         script="hf_export_peer.py")
    output_difference = max(
        float(np.abs(np.array(loaded["outputs"][0][name])
                     - np.array(theirs["outputs"][0][name])).max())
        for name in theirs["outputs"][0])
    return {"architecture": architecture, "tensors": len(original),
            "same_names": sorted(original) == sorted(exported),
            "bytes_differ": sorted(n for n in original if exported.get(n) != original[n]),
            "skipped_on_import": report.skipped,
            "loading_info": loaded["loading_info"],
            "output_max_abs_difference": output_difference,
            "transformers": loaded["versions"]["transformers"]}


def timed(call, inputs):
    """(outputs, batch-1 latencies in ms) of `call` over `inputs`."""
    outputs, latencies = [], []
    for item in inputs:
        start = time.perf_counter()
        outputs.append(call(item))
        latencies.append((time.perf_counter() - start) * 1000.0)
    return outputs, latencies


def folder_size(path) -> int:
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


def run_formats(run_folder, folder, python, values):
    """Every format of one fine-tuned run on its whole dev set."""
    import tensorflow as tf

    from albert_tf.checkpoints.hugging_face import write_hugging_face
    from albert_tf.checkpoints.keras_hub_preset import write_keras_hub_preset
    from albert_tf.data.packing import pack
    from albert_tf.export.tflite import MODEL_FILES, TfliteRunner, write_tflite
    from albert_tf.tasks.export_run import (ExportOptions, export_source, run_source,
                                            trained_model)
    from albert_tf.tasks.run_folder import load_run
    from benchmarks.peers import run_hf_peer

    run = load_run(run_folder)
    source = run_source(run)
    task, tokenizer = run.settings.task, source.tokenizer
    length = run.settings.max_seq_length
    dev = list(task.read(os.path.join(values.shared_dir, *DEV_DIRS[task.name]), "dev"))
    texts = [example.text_a for example in dev]
    gold = np.array([task.labels.index(example.label) for example in dev])
    packed = []
    for text in texts:
        ids, mask, segments = pack(tokenizer.encode(text), None, length, tokenizer.special_ids)
        used = sum(mask)
        packed.append(tuple(np.array([row[:used]], "int32") for row in (ids, mask, segments)))
    model = trained_model(source)
    reference = np.concatenate([model({"input_ids": i, "input_mask": m, "segment_ids": s},
                                      training=False).numpy() for i, m, s in packed])
    timed_inputs = packed[:values.latency_texts]
    rows = []

    def row(system, logits, size=None, latencies=None, note=""):
        logits = np.asarray(logits, np.float32).reshape(reference.shape)
        rows.append({"dataset": task.name, "system": system,
                     "accuracy": round(float((logits.argmax(-1) == gold).mean()), 4),
                     "max_abs_logit_difference": float(np.abs(logits - reference).max()),
                     "size_mb": round(size / 2 ** 20, 2) if size else None,
                     "p50_ms": round(float(np.median(latencies)), 3) if latencies else None,
                     "note": note})
        print(json.dumps(rows[-1]), flush=True)

    row("this project (Keras, float32)", reference)
    for system, precision in (("saved_model", "float32"),
                              ("saved_model_bf16", "mixed_bfloat16")):
        if system not in values.systems:
            continue
        saved_model = export_source(source, os.path.join(folder, f"{task.name}_{system}"),
                                    "model", ExportOptions(precision=precision))
        serve_ids = tf.saved_model.load(saved_model).signatures["serve_ids"]

        def saved_model_call(batch, serve_ids=serve_ids):
            ids, mask, segments = batch
            return serve_ids(input_ids=ids, input_mask=mask,
                             segment_ids=segments)["logits"].numpy()

        _, latencies = timed(saved_model_call, timed_inputs * 2)  # the first pass warms up
        logits = [saved_model_call(batch) for batch in packed]
        row(f"SavedModel serve_ids {precision}", logits, folder_size(saved_model),
            latencies[len(timed_inputs):])
    if "tflite" in values.systems:
        lite = os.path.join(folder, f"{task.name}_lite")
        written = write_tflite(model, lite, tokenizer, length, task.labels)
        for quantization, path in written.items():
            runner = TfliteRunner(open(path, "rb").read(), num_threads=os.cpu_count())
            call = lambda batch, runner=runner: runner(*batch)["logits"]  # noqa: E731
            _, latencies = timed(call, timed_inputs * 2)
            row(f"LiteRT {quantization}", [call(batch) for batch in packed],
                os.path.getsize(path), latencies[len(timed_inputs):], MODEL_FILES[quantization])

    if "hugging_face" in values.systems:
        hf = os.path.join(folder, f"{task.name}_hf")
        write_hugging_face(model, hf, tokenizer, task.labels)
        loaded = run_hf_peer(python, {"job": "load", "folder": hf, "texts": texts,
                                      "ids": [batch[0][0].tolist() for batch in packed],
                                      "max_length": length},
                             script="hf_export_peer.py")
        if "error" in loaded:
            print(json.dumps({"dataset": task.name, "hugging_face_error": loaded["error"]}))
        else:
            ours_ids = [batch[0][0].tolist() for batch in packed]
            within = [(theirs, mine) for theirs, mine in zip(loaded["text_ids"], ours_ids)
                      if len(theirs) <= length]  # ours are truncated to max_seq_length
            row("Hugging Face (our ids)", [out["logits"] for out in loaded["outputs"]],
                folder_size(hf), note=f"{loaded['architecture']}, loading info "
                f"{loaded['loading_info']}")
            row(f"Hugging Face (its {loaded['tokenizer']})",
                [out["logits"] for out in loaded["text_outputs"]], folder_size(hf))
            print(json.dumps({"dataset": task.name, "hf_tokenizer": loaded["tokenizer"],
                              "hf_ids_equal_ours": sum(a == b for a, b in within),
                              "texts_within_max_seq_length": len(within),
                              "texts": len(texts)}), flush=True)

    if "keras_hub" in values.systems:
        import keras_hub

        hub = os.path.join(folder, f"{task.name}_keras_hub")
        notes = write_keras_hub_preset(model, hub, tokenizer, length)
        classifier = keras_hub.models.AlbertTextClassifier.from_preset(hub)
        if classifier.preprocessor is not None:
            # keras-hub's tokenizer does not lower-case: the text goes in as the run saw it.
            hub_texts = [tokenizer.preprocess(text) for text in texts]
            logits = classifier.predict(hub_texts, batch_size=64, verbose=0)
            row("keras-hub AlbertTextClassifier (its preprocessor)", logits, folder_size(hub),
                note="; ".join(notes))
        else:
            logits = np.concatenate([classifier.predict(
                {"token_ids": i, "segment_ids": s, "padding_mask": m}, verbose=0)
                for i, m, s in packed])
            row("keras-hub AlbertTextClassifier (our ids)", logits, folder_size(hub),
                note="; ".join(notes))
    return rows


def main(_):
    from benchmarks.machine import cpu_flags, matmul_peak
    from benchmarks.peers import peers_python

    values = flags.FLAGS
    logging.set_verbosity(logging.WARNING)
    unknown = set(values.systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"bench_exports: --systems: unknown {sorted(unknown)}")
    python = (peers_python(values.peers_python)
              if values.round_trips or "hugging_face" in values.systems else None)
    folder = tempfile.mkdtemp(prefix="bench_exports-")
    print(json.dumps({"cpu_flags": cpu_flags(), "cpus": os.cpu_count(),
                      "float32_matmul_gflops": round(matmul_peak() / 1e9, 1),
                      "date": time.strftime("%Y-%m-%d")}), flush=True)
    if values.round_trips:
        for architecture in ("AlbertForPreTraining", "AlbertForSequenceClassification",
                             "AlbertForQuestionAnswering"):
            print(json.dumps(round_trip(architecture, folder, python)), flush=True)
    for run_folder in (values.sst2_run, values.chnsenticorp_run):
        if run_folder:
            run_formats(run_folder, folder, python, values)
    print(f"files under {folder}")


if __name__ == "__main__":
    app.run(main)
