"""The whole ALBERT pipeline end to end on a bundled corpus: `make demo` runs this.

Stages (each reused on a re-run while its settings are unchanged; --force redoes all):
corpus -> SentencePiece -> pretraining TFRecords -> pretraining (MLM + SOP) -> derived
task -> fine-tuning -> SavedModel export -> raw-text queries from a separate process ->
report.md with plots. Examples:

    python run_demo.py                                   # CPython's docs, about 9 minutes
    python run_demo.py --corpus=my_text.txt --run_dir=my_demo --pretrain_steps=3000
    make demo DEMO_ARGS="--model_size=tiny --pretrain_steps=100 --finetune_steps=50"
"""

from absl import logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.demo.pipeline import DEMO_MODEL_SIZES, DemoSettings

HELP = {
    "run_dir": "Folder for every artifact (report.md, logs/, export/, ...).",
    "corpus": "Your text: one sentence per line, blank lines between documents (default: "
              "the English documentation bundled with CPython).",
    "model_size": f"{', '.join(DEMO_MODEL_SIZES)}, or a preset (base, large, ...).",
    "vocab_size": "SentencePiece vocabulary size (shrunk to what the corpus supports).",
    "max_seq_length": "Sequence length of pretraining and fine-tuning.",
    "dupe_factor": "Passes over the corpus with different masks.",
    "pretrain_steps": "Pretraining steps.",
    "pretrain_batch_size": "Pretraining batch size.",
    "pretrain_learning_rate": "Pretraining peak learning rate (LAMB).",
    "finetune_steps": "Fine-tuning steps.",
    "finetune_batch_size": "Fine-tuning batch size.",
    "finetune_learning_rate": "Fine-tuning peak learning rate (AdamW).",
    "eval_every": "Fine-tuning steps between dev evaluations.",
    "query_examples": "Test pairs sent to the exported model.",
    "seed": "Seed for data, weights and the task.",
    "force": "Re-run every stage, even those whose outputs are current.",
}
define_flags(DemoSettings, HELP)


def main(values):
    from albert_tf.demo.pipeline import DemoPipeline

    pipeline = DemoPipeline(DemoSettings(**settings_from_flags(values, HELP)))
    pipeline.run()
    logging.info("report: %s", pipeline.path("report.md"))
    print(pipeline.path("report.md"))


run = entry_point("run_demo", main)


if __name__ == "__main__":
    run()
