"""Pretraining-step speed: this project against keras-hub's AlbertBackbone and Hugging
Face transformers' PyTorch AlbertForPreTraining, every cell.

A cell is (implementation, precision, XLA on/off, and for ours activation recomputation
on/off); each runs in its own process and prints
sequences/s, tokens/s, model-FLOPs utilization against the peak of a large matmul measured
in the same process at the cell's dtype, and peak memory. Both implementations run the same
step on the same synthetic batch: MLM (masked positions gathered before the vocabulary
projection) + SOP losses, gradients clipped to global norm 1, one LAMB update.

- ours: `TrainingLoop(PretrainingTask(...)).make_train_loop()`, the exact loop
  `run_pretraining.py` runs (`iterations_per_loop` steps per call).
- keras_hub: `keras_hub.models.AlbertBackbone` + the `MaskedLMHead` AlbertMaskedLM uses +
  a 2-way dense SOP head on the pooled output, stepped in a tf.function.
- hf_torch: `transformers.AlbertForPreTraining` on CPU PyTorch (`hf_peer.py`, run by the
  peers' own interpreter, see `peers.py`): its MLM head projects every position (HF's
  pretraining path), AdamW instead of LAMB (torch has none); "xla" means torch.compile;
  bfloat16 is torch.autocast. Its matmul peak is measured by torch in its process.

Run by hand (ALBERT-base, seq 128, batch 16 by default; results go in BENCHMARKS.md):

    .venv/bin/python benchmarks/bench_train.py
    .venv/bin/python benchmarks/bench_train.py --implementations=ours --precisions=bfloat16
    .venv/bin/python benchmarks/bench_train.py --implementations=hf_torch  # creates .venv-peers
    # peak memory and step time with and without --recompute_activations
    .venv/bin/python benchmarks/bench_train.py --implementations=ours --precisions=float32 \
        --xla=false --recompute=false,true --seq=512 --batch=8
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from benchmarks.machine import matmul_peak  # noqa: E402
from benchmarks.synthetic import synthetic_batch  # noqa: E402

flags.DEFINE_list("implementations", ["ours", "keras_hub", "hf_torch"],
                  "Which models to time.")
flags.DEFINE_string("peers_python", "", "hf_torch: an interpreter with torch and "
                    "transformers (default: .venv-peers/, created on first use).")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "float32, bfloat16 and/or float16.")
flags.DEFINE_list("xla", ["false", "true"], "XLA settings to time.")
flags.DEFINE_list("recompute", ["false"], "ours: activation recomputation settings to time "
                  "(--recompute=false,true compares peak memory and step time).")
flags.DEFINE_string("preset", "base", "Model size (base, large, ...).")
flags.DEFINE_integer("seq", 128, "Sequence length.")
flags.DEFINE_integer("batch", 16, "Batch size.")
flags.DEFINE_integer("predictions", 20, "Masked positions per sequence.")
flags.DEFINE_integer("warmup_steps", 2, "Untimed steps after compilation.")
flags.DEFINE_integer("steps", 6, "Timed steps.")
flags.DEFINE_string("cell", None, "Internal: run one cell (impl:precision:xla) and print JSON.")

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def ours_step(config, batch, precision, xla, steps_per_call, recompute=False):
    """Times our real training loop: returns run(steps) -> None."""
    import tensorflow as tf

    from albert_tf.training.distribution import create_strategy
    from albert_tf.tasks.pretraining.task import PretrainingSettings, PretrainingTask
    from albert_tf.training.loop import TrainingLoop

    strategy = create_strategy("one_device")
    settings = PretrainingSettings(
        input_files=[], output_dir=tempfile.mkdtemp(prefix="bench_train-"),
        albert_config=config, max_seq_length=batch["input_ids"].shape[1],
        max_predictions_per_seq=batch["masked_lm_ids"].shape[1],
        train_batch_size=batch["input_ids"].shape[0], learning_rate=1e-4, optimizer="lamb",
        num_train_steps=10 ** 6, num_warmup_steps=0, iterations_per_loop=steps_per_call,
        precision=POLICIES[precision], jit_compile=xla, recompute_activations=recompute)
    runner = TrainingLoop(PretrainingTask(settings), settings, strategy)
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    iterator = iter(runner.distribute(lambda context: dataset))
    loop = runner.make_train_loop()
    return lambda steps: float(loop(iterator, tf.constant(steps))["loss"])


def keras_hub_step(config, batch, precision, xla):
    import keras
    import keras_hub
    import tensorflow as tf

    from albert_tf.models.losses import pretraining_losses

    keras.mixed_precision.set_global_policy(POLICIES[precision])
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, embedding_dim=config.embedding_size,
        hidden_dim=config.hidden_size, intermediate_dim=config.intermediate_size,
        num_groups=config.num_hidden_groups, num_inner_repetitions=config.inner_group_num,
        dropout=config.hidden_dropout_prob, max_sequence_length=config.max_position_embeddings)
    mlm_head = keras_hub.layers.MaskedLMHead(vocabulary_size=config.vocab_size,
                            token_embedding=backbone.token_embedding,
                            intermediate_activation=lambda x: keras.activations.gelu(
                                x, approximate=True), dtype=backbone.dtype_policy)
    sop_head = keras.layers.Dense(2, dtype=backbone.dtype_policy)
    optimizer = keras.optimizers.Lamb(learning_rate=1e-4, global_clipnorm=1.0)
    features = {"token_ids": batch["input_ids"], "segment_ids": batch["segment_ids"],
                "padding_mask": batch["input_mask"]}
    outputs = backbone(features)
    mlm_head(outputs["sequence_output"], batch["masked_lm_positions"])
    sop_head(outputs["pooled_output"])
    variables = (backbone.trainable_variables + mlm_head.trainable_variables
                 + sop_head.trainable_variables)
    optimizer.build(variables)

    def step(data):
        with tf.GradientTape() as tape:
            encoded = backbone({"token_ids": data["input_ids"],
                                "segment_ids": data["segment_ids"],
                                "padding_mask": data["input_mask"]}, training=True)
            mlm_logits = mlm_head(encoded["sequence_output"], data["masked_lm_positions"])
            sop_logits = sop_head(encoded["pooled_output"])
            loss = pretraining_losses(mlm_logits, sop_logits, data["masked_lm_ids"],
                                      data["masked_lm_weights"],
                                      data["next_sentence_labels"])["loss"]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    step_fn = tf.function(step, jit_compile=xla)
    constant = {name: tf.constant(value) for name, value in batch.items()}

    def run(steps):
        loss = None
        for _ in range(steps):
            loss = step_fn(constant)
        return float(loss)

    return run


def hf_torch_timing(config, batch, precision: str, compiled: bool) -> dict:
    """A hf_torch cell's timing, run in the peers' interpreter."""
    from benchmarks.peers import peers_python, run_hf_peer

    values = flags.FLAGS
    result = run_hf_peer(peers_python(values.peers_python), {
        "job": "train", "config": config.to_dict(), "precision": precision,
        "compile": compiled, "steps": values.steps, "warmup_steps": values.warmup_steps,
        "batch": {name: value.tolist() for name, value in batch.items()}})
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def tensorflow_timing(implementation: str, config, batch, precision: str, xla: bool,
                      recompute: bool) -> dict:
    """An ours/keras_hub cell's timing in this process."""
    import tensorflow as tf

    values = flags.FLAGS
    compute_dtype = {"float32": tf.float32, "bfloat16": tf.bfloat16,
                     "float16": tf.float16}[precision]
    peak = matmul_peak(compute_dtype)
    start = time.perf_counter()
    if implementation == "ours":
        run = ours_step(config, batch, precision, xla, values.steps, recompute)
    else:
        run = keras_hub_step(config, batch, precision, xla)
    loss = run(1)  # trace and compile
    compile_seconds = time.perf_counter() - start
    if values.warmup_steps:
        run(values.warmup_steps)
    start = time.perf_counter()
    loss = run(values.steps)
    seconds = time.perf_counter() - start
    if tf.config.list_physical_devices("GPU"):
        peak_memory = tf.config.experimental.get_memory_info("GPU:0")["peak"]
    else:
        peak_memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"step_seconds": seconds / values.steps, "compile_seconds": compile_seconds,
            "loss": loss, "matmul_peak_flops": peak, "peak_memory_gib": peak_memory / 2 ** 30}


def run_cell(cell: str) -> dict:
    from albert_tf.config import AlbertConfig
    from albert_tf.models.flops import model_flops_per_sequence

    values = flags.FLAGS
    implementation, precision, xla, recompute = cell.split(":")
    xla, recompute = xla == "true", recompute == "true"
    config = AlbertConfig.from_preset(values.preset)
    batch = synthetic_batch(config, values.batch, values.seq, values.predictions)
    timing = (hf_torch_timing(config, batch, precision, xla) if implementation == "hf_torch"
              else tensorflow_timing(implementation, config, batch, precision, xla,
                                     recompute))
    sequences = values.batch / timing["step_seconds"]
    flops = model_flops_per_sequence(config, values.seq, values.predictions)
    return {"implementation": implementation, "precision": precision, "xla": xla,
            "recompute": recompute,
            "sequences_per_second": sequences, "tokens_per_second": sequences * values.seq,
            "step_seconds": timing["step_seconds"],
            "matmul_peak_tflops": timing["matmul_peak_flops"] / 1e12,
            "mfu": sequences * flops / timing["matmul_peak_flops"],
            "peak_memory_gib": timing["peak_memory_gib"],
            "compile_seconds": timing["compile_seconds"], "loss": timing["loss"]}


def main(argv):
    values = flags.FLAGS
    if values.cell:
        print(json.dumps(run_cell(values.cell)))
        return
    print(f"preset {values.preset}, seq {values.seq}, batch {values.batch}, "
          f"{values.predictions} masked positions, {values.steps} timed steps; "
          f"cpus={os.cpu_count()}", flush=True)
    header = (f"{'implementation':<10} {'precision':<9} {'xla':<5} {'remat':<5} {'seq/s':>7} "
              f"{'tokens/s':>9} {'s/step':>7} {'peak TF/s':>9} {'MFU':>6} {'mem GiB':>7} "
              f"{'compile s':>9}")
    print(header, flush=True)
    results = []
    cells = [f"{implementation}:{precision}:{xla}:{recompute}"
             for implementation in values.implementations for precision in values.precisions
             for xla in values.xla for recompute in values.recompute
             if implementation == "ours" or recompute == "false"]
    for cell in cells:
        command = [sys.executable, os.path.abspath(__file__), f"--cell={cell}"] + [
            arg for arg in sys.argv[1:] if not arg.startswith("--cell")]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{cell}: failed\n{done.stderr[-1500:]}", flush=True)
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(row)
        print(f"{row['implementation']:<10} {row['precision']:<9} {str(row['xla']):<5} "
              f"{str(row['recompute']):<5} {row['sequences_per_second']:>7.2f} "
              f"{row['tokens_per_second']:>9.0f} {row['step_seconds']:>7.3f} "
              f"{row['matmul_peak_tflops']:>9.3f} {row['mfu']:>6.1%} "
              f"{row['peak_memory_gib']:>7.2f} {row['compile_seconds']:>9.1f}", flush=True)
    best = {}
    for row in results:
        key = row["implementation"]
        if key not in best or row["sequences_per_second"] > best[key]["sequences_per_second"]:
            best[key] = row
    for peer in ("keras_hub", "hf_torch"):
        if {"ours", peer} <= set(best):
            ratio = best["ours"]["sequences_per_second"] / best[peer]["sequences_per_second"]
            print(f"best cells: ours {best['ours']['precision']}/xla={best['ours']['xla']}, "
                  f"{peer} {best[peer]['precision']}/xla={best[peer]['xla']}: "
                  f"ours/{peer} = {ratio:.2f}x")


if __name__ == "__main__":
    app.run(main)
