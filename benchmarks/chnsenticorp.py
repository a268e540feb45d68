"""ChnSentiCorp dev accuracy of a small Chinese ALBERT, from scratch and after a short
pretraining on the shared Chinese news corpus, against the majority class.

Uses the released Chinese WordPiece vocabulary (../shared/data/chinese/vocab.txt) and the
released ALBERT-tiny config (vocabulary 21,128, 4 layers), narrowed by default to hidden
128 / embedding 64 / intermediate 512 so that each arm takes a few CPU minutes (the
released hidden 312 takes about 3 s a step on 2 cores), and the library paths of
create_pretraining_data, run_pretraining and run_classifier. Prints one JSON line per arm
and the stage times. Run by hand:

    .venv/bin/python benchmarks/chnsenticorp.py --finetune_steps=300 --pretrain_steps=500
"""

import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags, logging  # noqa: E402

from albert_tf.cli.script import entry_point  # noqa: E402  (quiets TensorFlow's logs)
from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.data.glue import get_task  # noqa: E402
from albert_tf.data.pretraining_data import (PretrainingDataSettings,  # noqa: E402
                                             create_pretraining_data)
from albert_tf.tasks import classification, pretraining  # noqa: E402
from albert_tf.training.distribution import create_strategy  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")

flags.DEFINE_string("shared_dir", SHARED, "The shared data folder.")
flags.DEFINE_string("output_dir", None, "Work folder (default: a new temporary folder).")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length.")
flags.DEFINE_integer("finetune_steps", 300, "Fine-tuning steps (batch 32: 1 epoch = 300).")
flags.DEFINE_float("finetune_learning_rate", 3e-4, "Fine-tuning peak learning rate (AdamW).")
flags.DEFINE_integer("pretrain_steps", 500, "Pretraining steps on news_zh_1 (batch 32).")
flags.DEFINE_integer("dupe_factor", 20, "Masking passes over the news corpus.")
flags.DEFINE_integer("seed", 1, "Seed.")
flags.DEFINE_integer("hidden_size", 128, "Model width (the released tiny: 312).")
flags.DEFINE_integer("embedding_size", 64, "Embedding size E (the released tiny: 128).")
flags.DEFINE_integer("intermediate_size", 512, "Feed-forward width (released: 1248).")
flags.DEFINE_integer("num_attention_heads", 4, "Heads (the released tiny: 12).")


def fine_tune(folder, name, config, init_checkpoint, values, strategy):
    shared = values.shared_dir
    steps = values.finetune_steps
    settings = classification.ClassifierSettings(
        task=get_task("chnsenticorp"), data_dir=os.path.join(shared, "chnsenticorp"),
        vocab_file=os.path.join(shared, "chinese", "vocab.txt"), albert_config=config,
        output_dir=os.path.join(folder, name), init_checkpoint=init_checkpoint,
        max_seq_length=values.max_seq_length, train_batch_size=32, eval_batch_size=64,
        learning_rate=values.finetune_learning_rate, num_train_steps=steps,
        num_warmup_steps=steps // 10, save_checkpoints_steps=max(1, steps // 3),
        iterations_per_loop=50, log_steps=100, do_train=True, do_eval=True,
        precision="float32", seed=values.seed)
    start = time.perf_counter()
    results = classification.run(settings, strategy)
    return {"arm": name, "best_dev_accuracy": round(results["best"]["accuracy"], 4),
            "best_step": results["best"]["step"],
            "last_dev_accuracy": round(results["eval"]["accuracy"], 4),
            "seconds": round(time.perf_counter() - start, 1)}


def main(values):
    logging.set_verbosity(logging.INFO)
    shared = values.shared_dir
    vocab = os.path.join(shared, "chinese", "vocab.txt")
    config = AlbertConfig.from_json_file(
        os.path.join(shared, "chinese", "albert_config_tiny_google.json")).replace(
            hidden_size=values.hidden_size, embedding_size=values.embedding_size,
            intermediate_size=values.intermediate_size,
            num_attention_heads=values.num_attention_heads)
    print(json.dumps({"config": config.to_dict()}))
    folder = values.output_dir or tempfile.mkdtemp(prefix="chnsenticorp-")
    strategy = create_strategy("one_device")
    dev = get_task("chnsenticorp").read(os.path.join(shared, "chnsenticorp"), "dev")
    majority = max(sum(e.label == label for e in dev) for label in ("0", "1")) / len(dev)
    print(json.dumps({"dev_examples": len(dev), "majority_class_accuracy": round(majority, 4)}))

    print(json.dumps(fine_tune(folder, "from_scratch", config, None, values, strategy)))

    start = time.perf_counter()
    manifest = create_pretraining_data(
        [os.path.join(shared, "chinese", "news_zh_1.txt")],
        os.path.join(folder, "records", "news.tfrecord"), None,
        PretrainingDataSettings(max_seq_length=values.max_seq_length,
                                max_predictions_per_seq=20, dupe_factor=values.dupe_factor,
                                random_seed=values.seed), vocab_file=vocab)
    data_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pretrain_dir = os.path.join(folder, "pretrain")
    pretrained = pretraining.run(pretraining.PretrainingSettings(
        input_files=manifest["output_files"], output_dir=pretrain_dir, albert_config=config,
        max_seq_length=values.max_seq_length, max_predictions_per_seq=20,
        train_batch_size=32, learning_rate=2e-3, num_train_steps=values.pretrain_steps,
        num_warmup_steps=values.pretrain_steps // 10,
        save_checkpoints_steps=values.pretrain_steps, iterations_per_loop=50, log_steps=100,
        precision="float32", seed=values.seed), strategy)
    print(json.dumps({"pretraining_instances": manifest["statistics"]["instances"],
                      "data_seconds": round(data_seconds, 1),
                      "pretrain_seconds": round(time.perf_counter() - start, 1),
                      "final_pretraining": {name: round(value, 4) for name, value in
                                            pretrained["train"].items()}}))
    print(json.dumps(fine_tune(folder, "after_pretraining", config, pretrain_dir, values,
                               strategy)))


if __name__ == "__main__":
    entry_point("chnsenticorp", main)()
