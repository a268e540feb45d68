"""Fine-tunes a small ALBERT from scratch (no pretraining) on the full SST-2 and reports dev accuracy.

Trains a SentencePiece model on the SST-2 training sentences, then runs `run_classifier`'s
library path (cache, train, evaluate every --save_steps, keep the best) and prints the dev
accuracy after each evaluation, the wall time of each stage and the training throughput.
Needs ../shared/data/glue/SST-2. Run by hand:

    .venv/bin/python benchmarks/finetune_sst2.py --epochs=3
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags, logging  # noqa: E402

from albert_tf.config import AlbertConfig  # noqa: E402
from albert_tf.data.glue import get_task  # noqa: E402
from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece  # noqa: E402
from albert_tf.tasks.classification.task import ClassifierSettings, run  # noqa: E402
from albert_tf.training.distribution import create_strategy  # noqa: E402

DEFAULT_GLUE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data", "glue")

flags.DEFINE_string("glue_dir", DEFAULT_GLUE, "Folder holding SST-2/.")
flags.DEFINE_string("output_dir", None, "Run folder (default: a new temporary folder).")
flags.DEFINE_integer("epochs", 3, "Passes over the 67,349 training sentences.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("max_seq_length", 64, "Sequence length (SST-2 sentences are short).")
flags.DEFINE_float("learning_rate", 3e-4, "Peak learning rate (from scratch needs more than "
                   "fine-tuning's 1e-5; 1e-3 at hidden 256 collapsed to the majority class).")
flags.DEFINE_integer("evaluations", 6, "Dev evaluations spread over the run.")
flags.DEFINE_integer("vocab_size", 8000, "SentencePiece vocabulary trained on SST-2 train.")
flags.DEFINE_integer("hidden_size", 128, "Model width.")
flags.DEFINE_integer("num_hidden_layers", 4, "Layers (all sharing one block).")
flags.DEFINE_enum("precision", "mixed_bfloat16", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Compute precision.")
flags.DEFINE_integer("seed", 1, "Seed.")

TRAIN_SENTENCES = 67349


def main(_):
    values = flags.FLAGS
    logging.set_verbosity(logging.INFO)  # the training loop's progress lines
    source = os.path.join(values.glue_dir, "SST-2")
    if not os.path.exists(os.path.join(source, "train.tsv")):
        sys.exit(f"finetune_sst2: {source}/train.tsv not found; pass --glue_dir")
    folder = values.output_dir or tempfile.mkdtemp(prefix="finetune_sst2-")
    os.makedirs(folder, exist_ok=True)
    stages = {}

    start = time.perf_counter()
    corpus = os.path.join(folder, "sst2_train_sentences.txt")
    task = get_task("SST-2")
    with open(corpus, "w", encoding="utf-8") as handle:
        handle.writelines(example.text_a + "\n" for example in task.read(source, "train"))
    spm_model = train_sentencepiece([corpus], os.path.join(folder, "spm"),
                                    vocab_size=values.vocab_size)
    stages["sentencepiece"] = time.perf_counter() - start

    save_steps = max(1, values.epochs * TRAIN_SENTENCES // values.batch_size // values.evaluations)
    steps = save_steps * values.evaluations
    config = AlbertConfig.from_preset(
        "base", vocab_size=values.vocab_size, embedding_size=128,
        hidden_size=values.hidden_size, num_hidden_layers=values.num_hidden_layers,
        num_attention_heads=values.hidden_size // 64, intermediate_size=4 * values.hidden_size,
        max_position_embeddings=values.max_seq_length, hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1)
    settings = ClassifierSettings(
        task=task, data_dir=source, spm_model_file=spm_model, albert_config=config,
        output_dir=os.path.join(folder, "run"), max_seq_length=values.max_seq_length,
        train_batch_size=values.batch_size, eval_batch_size=256, learning_rate=values.learning_rate,
        num_train_steps=steps, num_warmup_steps=steps // 10, save_checkpoints_steps=save_steps,
        iterations_per_loop=min(save_steps, 100), log_steps=save_steps,
        precision=values.precision, do_train=True, do_eval=True, seed=values.seed)
    print(f"SST-2 from scratch: {TRAIN_SENTENCES} train sentences x {values.epochs} epochs = "
          f"{steps} steps of {values.batch_size}; seq {values.max_seq_length}; hidden "
          f"{values.hidden_size} x {values.num_hidden_layers} layers (shared), vocab "
          f"{values.vocab_size}; {values.precision}; cpus={os.cpu_count()}", flush=True)
    start = time.perf_counter()
    results = run(settings, create_strategy("one_device"))
    stages["cache+train+eval"] = time.perf_counter() - start

    with open(os.path.join(settings.output_dir, "eval_results.json"), encoding="utf-8") as handle:
        history = json.load(handle)
    for evaluation in history["evaluations"]:
        print(f"step {evaluation['step']:>6}: dev accuracy {evaluation['accuracy']:.4f}")
    dev = task.read(source, "dev")
    majority = max(sum(e.label == label for e in dev) for label in task.labels) / len(dev)
    best = results["best"]
    print(f"best dev accuracy {best['accuracy']:.4f} at step {best['step']} "
          f"(majority class {majority:.4f})")
    train_seconds = stages["cache+train+eval"]
    print(f"sequences/s over the whole run incl. caching and evaluation: "
          f"{steps * values.batch_size / train_seconds:,.0f}")
    for stage, seconds in stages.items():
        print(f"{stage}: {seconds:.1f} s")
    print(f"total: {sum(stages.values()):.1f} s; run folder {folder}")


if __name__ == "__main__":
    app.run(main)
