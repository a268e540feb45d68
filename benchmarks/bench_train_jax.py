"""Pretraining-step speed of this project's model on an accelerator through Keras's JAX
backend (XLA), for machines that have JAX but no TensorFlow (the GPU machines this
project is measured on cannot install TensorFlow: nothing can be downloaded there and its
wheel is larger than what can be carried).

The model, heads and losses are the project's own Keras 3 code (`AlbertPretrainer`,
`pretraining_losses`: keras.ops only), stepped as `bench_train.py` steps them: MLM (masked
positions gathered before the vocabulary projection) + SOP losses, dropout on, gradients
clipped to global norm 1, one Keras LAMB update, one jitted function per step. What this
does not time is the TensorFlow training loop around the model (`TrainingLoop`), which
`bench_train.py` times on machines that have TensorFlow.

Each cell (preset, sequence length, precision) runs in its own process and prints one
JSON line: sequences/s, tokens/s, model-FLOPs utilization against the peak of an
8192^3 matmul measured in the same process at the cell's compute dtype, and the device's
peak memory. Run by hand; results go in BENCHMARKS.md:

    KERAS_BACKEND=jax python benchmarks/bench_train_jax.py \
        --cells=base:128:128:bfloat16,base:512:32:bfloat16 --output=results.jsonl
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
# Masked positions per sequence: the original create_pretraining_data's
# max_predictions_per_seq at 128 (20), and the same 15% share at 512.
PREDICTIONS = {128: 20, 512: 77}


def matmul_peak(dtype: str, size: int = 8192, repeats: int = 10) -> float:
    """FLOP/s of a size^3 matmul in `dtype` on the default device."""
    import jax

    # Random operands: on zeros or ones the tensor cores draw less power and clock higher
    # (an H200 gave 894 TFLOP/s on zeros, 788 on random data).
    a, b = (jax.random.normal(jax.random.PRNGKey(seed), (size, size), dtype)
            for seed in (0, 1))
    matmul = jax.jit(lambda x, y: x @ y)
    for _ in range(3):
        matmul(a, b).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = matmul(a, b)
    out.block_until_ready()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


def run_cell(preset: str, seq: int, batch_size: int, precision: str, warmup: int,
             steps: int, recompute: bool = False) -> dict:
    import jax
    import keras

    from albert_tf.config import AlbertConfig
    from albert_tf.models.flops import model_flops_per_sequence
    from albert_tf.models.losses import pretraining_losses
    from albert_tf.models.pretrainer import LABEL_NAMES, AlbertPretrainer
    from benchmarks.synthetic import synthetic_batch

    peak = matmul_peak({"float32": "float32", "bfloat16": "bfloat16"}[precision])
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    keras.utils.set_random_seed(0)
    config = AlbertConfig.from_preset(preset)
    predictions = PREDICTIONS.get(seq, max(1, int(round(0.15 * seq))))
    batch = synthetic_batch(config, batch_size, seq, predictions)
    features = {name: value for name, value in batch.items() if name not in LABEL_NAMES}
    model = AlbertPretrainer(config)
    for block in model.encoder.transformer_blocks:  # keras.remat: jax.checkpoint here
        block.recompute_activations = recompute
    optimizer = keras.optimizers.Lamb(learning_rate=1e-4, weight_decay=0.01,
                                      global_clipnorm=1.0)
    optimizer.build(model.trainable_variables)

    def loss_fn(trainable, non_trainable, features, labels):
        outputs, non_trainable = model.stateless_call(trainable, non_trainable, features,
                                                      training=True)
        losses = pretraining_losses(outputs["mlm_logits"], outputs["sop_logits"],
                                    labels["masked_lm_ids"], labels["masked_lm_weights"],
                                    labels["next_sentence_labels"])
        return losses["loss"], non_trainable

    gradients = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def step(state, features, labels):
        trainable, non_trainable, optimizer_variables = state
        (loss, non_trainable), grads = gradients(trainable, non_trainable, features, labels)
        trainable, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable)
        return loss, (trainable, non_trainable, optimizer_variables)

    state = ([v.value for v in model.trainable_variables],
             [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    labels = {name: batch[name] for name in LABEL_NAMES}
    features, labels = jax.device_put(features), jax.device_put(labels)
    start = time.perf_counter()
    loss, state = step(state, features, labels)
    loss.block_until_ready()
    compile_seconds = time.perf_counter() - start
    first_loss = float(loss)
    for _ in range(warmup):
        loss, state = step(state, features, labels)
    loss.block_until_ready()
    start = time.perf_counter()
    for _ in range(steps):
        loss, state = step(state, features, labels)
    loss.block_until_ready()
    seconds = time.perf_counter() - start
    sequences = steps * batch_size / seconds
    flops = model_flops_per_sequence(config, seq, predictions)
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    return {"preset": preset, "seq": seq, "batch": batch_size, "precision": precision,
            "recompute": recompute,
            "device": device.device_kind, "sequences_per_second": sequences,
            "tokens_per_second": sequences * seq, "step_seconds": seconds / steps,
            "matmul_peak_tflops": peak / 1e12, "mfu": sequences * flops / peak,
            "peak_memory_gib": stats.get("peak_bytes_in_use", 0) / 2 ** 30,
            "compile_seconds": compile_seconds, "first_loss": first_loss,
            "last_loss": float(loss)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="base:128:128:float32,base:128:128:bfloat16,"
                        "base:512:32:float32,base:512:32:bfloat16",
                        help="preset:seq:batch:precision[:remat], comma-separated (remat: "
                        "recompute each transformer block's activations in the backward pass)")
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cell_timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--output", help="also append each cell's JSON line here")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        preset, seq, batch, precision, *recompute = args.cell.split(":")
        print(json.dumps(run_cell(preset, int(seq), int(batch), precision,
                                  args.warmup_steps, args.steps, recompute == ["remat"])))
        return
    print(f"{'cell':<32} {'seq/s':>8} {'tokens/s':>9} {'s/step':>7} {'peak TF/s':>9} "
          f"{'MFU':>6} {'mem GiB':>7} {'compile s':>9}", flush=True)
    for cell in args.cells.split(","):
        command = [sys.executable, os.path.abspath(__file__), f"--cell={cell}",
                   f"--warmup_steps={args.warmup_steps}", f"--steps={args.steps}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=args.cell_timeout)
        except subprocess.TimeoutExpired:
            print(f"{cell}: over {args.cell_timeout} s", flush=True)
            continue
        if done.returncode:
            print(f"{cell}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        line = done.stdout.strip().splitlines()[-1]
        row = json.loads(line)
        if args.output:
            with open(args.output, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        print(f"{cell:<32} {row['sequences_per_second']:>8.1f} "
              f"{row['tokens_per_second']:>9.0f} {row['step_seconds']:>7.4f} "
              f"{row['matmul_peak_tflops']:>9.1f} {row['mfu']:>6.1%} "
              f"{row['peak_memory_gib']:>7.2f} {row['compile_seconds']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
