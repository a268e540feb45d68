"""Batches by length against padding every example to --max_seq_length: one fine-tuning
epoch, the dev evaluation pass and a prediction pass, with the dev accuracy of each arm.

Each arm runs `run_classifier`'s library path (ClassificationTask in the TrainingLoop)
with the same seed, model, data and steps; only `batch_by_length` differs. Features are
cached before the clocks start. Datasets: the full SST-2 (67,349 train sentences, 872
dev, 1,821 test; a SentencePiece model trained on its training sentences) and
ChnSentiCorp (9,600 train, 1,200 dev and test; the released Chinese WordPiece
vocabulary). Model: the small from-scratch ALBERT of `finetune_sst2.py` (hidden 128, 4
layers sharing one block) unless changed by flags. Prints one JSON line per arm and the
ratios. Needs ../shared/data. Run by hand:

    .venv/bin/python benchmarks/length_batching.py --datasets=sst2,chnsenticorp
"""

import json
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging  # noqa: E402

from albert_tf.cli.script import entry_point  # noqa: E402  (quiets TensorFlow's logs)
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.data.classifier_data import cached_lengths  # noqa: E402
from albert_tf.data.glue import get_task  # noqa: E402
from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece  # noqa: E402
from albert_tf.tasks.classification.task import ClassificationTask, ClassifierSettings  # noqa: E402
from albert_tf.training.distribution import create_strategy  # noqa: E402
from albert_tf.training.loop import TrainingLoop  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")

flags.DEFINE_string("shared_dir", SHARED, "The shared data folder.")
flags.DEFINE_list("datasets", ["sst2", "chnsenticorp"], "sst2 and/or chnsenticorp.")
flags.DEFINE_list("arms", ["padded", "by_length"], "Which arms to run, in this order.")
flags.DEFINE_string("output_dir", None, "Work folder (default: a new temporary folder).")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length (run_classifier's usual 128).")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("eval_batch_size", 64, "Evaluation and prediction batch size.")
flags.DEFINE_float("epochs", 1.0, "Training epochs per arm.")
flags.DEFINE_float("learning_rate", 3e-4, "Peak learning rate (AdamW, 10% warmup).")
flags.DEFINE_integer("hidden_size", 128, "Model width.")
flags.DEFINE_integer("num_hidden_layers", 4, "Layers (sharing one block).")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"], "Compute precision.")
flags.DEFINE_integer("seed", 1, "Seed (the same for both arms).")


def sst2_setup(shared, folder, values):
    data = os.path.join(shared, "glue", "SST-2")
    task = get_task("SST-2")
    corpus = os.path.join(folder, "sst2_train_sentences.txt")
    with open(corpus, "w", encoding="utf-8") as handle:
        handle.writelines(example.text_a + "\n" for example in task.read(data, "train"))
    spm_model = train_sentencepiece([corpus], os.path.join(folder, "spm"), vocab_size=8000)
    config = AlbertConfig.from_preset(
        "base", vocab_size=8000, embedding_size=128, hidden_size=values.hidden_size,
        num_hidden_layers=values.num_hidden_layers,
        num_attention_heads=max(1, values.hidden_size // 64),
        intermediate_size=4 * values.hidden_size,
        max_position_embeddings=max(512, values.max_seq_length))
    return dict(task=task, data_dir=data, spm_model_file=spm_model, albert_config=config)


def chnsenticorp_setup(shared, folder, values):
    config = AlbertConfig.from_json_file(
        os.path.join(shared, "chinese", "albert_config_tiny_google.json")).replace(
            hidden_size=values.hidden_size, embedding_size=64,
            intermediate_size=4 * values.hidden_size,
            num_attention_heads=max(1, values.hidden_size // 32),
            num_hidden_layers=values.num_hidden_layers)
    return dict(task=get_task("chnsenticorp"), data_dir=os.path.join(shared, "chnsenticorp"),
                vocab_file=os.path.join(shared, "chinese", "vocab.txt"), albert_config=config)


SETUPS = {"sst2": sst2_setup, "chnsenticorp": chnsenticorp_setup}


def run_arm(name, arm, base, folder, values, strategy):
    train_count = len(base["task"].read(base["data_dir"], "train"))
    steps = max(1, round(values.epochs * train_count / values.batch_size))
    settings = ClassifierSettings(
        **base, output_dir=os.path.join(folder, f"{name}-{arm}"),
        max_seq_length=values.max_seq_length, train_batch_size=values.batch_size,
        eval_batch_size=values.eval_batch_size, predict_batch_size=values.eval_batch_size,
        learning_rate=values.learning_rate, num_train_steps=steps,
        num_warmup_steps=steps // 10, save_checkpoints_steps=steps,
        iterations_per_loop=100, log_steps=500, precision=values.precision,
        do_train=True, do_eval=True, seed=values.seed, batch_by_length=arm == "by_length")
    task = ClassificationTask(settings)
    task.validate(strategy)
    loop = TrainingLoop(task, settings, strategy)
    loop.restore()
    for split in ["train", "dev", *task.data.submission_names]:
        task.split(split)  # cached before the clocks start
    start = time.perf_counter()
    loop.train(on_checkpoint=lambda step: None)
    train_seconds = time.perf_counter() - start
    timings = []
    for _ in range(2):  # the first pass traces the prediction function
        start = time.perf_counter()
        results = task.evaluate(loop)
        timings.append(time.perf_counter() - start)
    test_split = next(iter(task.data.submission_names))
    path, test_examples = task.split(test_split)
    start = time.perf_counter()
    task.predict_outputs(loop.model, path, values.eval_batch_size)
    predict_seconds = time.perf_counter() - start
    return {"dataset": name, "arm": arm, "train_examples": train_count, "steps": steps,
            "mean_train_length": cached_lengths(task.split("train")[0])["mean_length"],
            "epoch_seconds": round(train_seconds * train_count / (steps * values.batch_size),
                                   1),
            "train_sequences_per_second": round(steps * values.batch_size / train_seconds, 1),
            "eval_seconds_first": round(timings[0], 2), "eval_seconds": round(timings[1], 2),
            "dev_examples": results["examples"], "dev_accuracy": round(results["accuracy"], 4),
            "predict_seconds": round(predict_seconds, 2),
            "predict_examples": len(test_examples)}


def main(values):
    logging.set_verbosity(logging.WARNING)
    folder = values.output_dir or tempfile.mkdtemp(prefix="length_batching-")
    os.makedirs(folder, exist_ok=True)
    strategy = create_strategy("one_device")
    print(json.dumps({"machine": platform.processor() or platform.machine(),
                      "cpus": os.cpu_count(), "max_seq_length": values.max_seq_length,
                      "batch_size": values.batch_size, "precision": values.precision,
                      "hidden_size": values.hidden_size,
                      "num_hidden_layers": values.num_hidden_layers, "seed": values.seed}),
          flush=True)
    for name in values.datasets:
        if name not in SETUPS:
            raise SystemExit(f"length_batching: --datasets: unknown {name!r}; "
                             f"known: {', '.join(SETUPS)}")
        base = SETUPS[name](values.shared_dir, folder, values)
        rows = {}
        for arm in values.arms:
            rows[arm] = run_arm(name, arm, base, folder, values, strategy)
            print(json.dumps(rows[arm]), flush=True)
        if {"padded", "by_length"} <= rows.keys():
            padded, by_length = rows["padded"], rows["by_length"]
            print(json.dumps({
                "dataset": name,
                "epoch_speedup": round(padded["epoch_seconds"] / by_length["epoch_seconds"], 2),
                "eval_speedup": round(padded["eval_seconds"] / by_length["eval_seconds"], 2),
                "predict_speedup": round(padded["predict_seconds"]
                                         / by_length["predict_seconds"], 2),
                "dev_accuracy_difference_points": round(
                    100 * (by_length["dev_accuracy"] - padded["dev_accuracy"]), 2)}),
                flush=True)


if __name__ == "__main__":
    entry_point("length_batching", main)()
