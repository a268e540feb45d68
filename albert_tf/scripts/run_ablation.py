"""A grid of short ALBERT pretraining runs over the paper's design choices, compared.

Every cell is an ordinary run_pretraining run (same steps, batch and learning rate) in
`<run_dir>/cells/<cell>/`, evaluated on held-out records built as SOP pairs and as NSP
pairs from the same documents, optionally fine-tuned with equal budgets, and analyzed for
layer transitions; `<run_dir>/ablation.md` holds the table, `ablation.json` the numbers,
`plots/` the learning curves and the Figure-2 plot. Re-running reuses finished cells and
resumes an interrupted one; `make experiment` runs the grid BENCHMARKS.md reports. Examples:

    python run_ablation.py --sharing=all,none --objectives=sop,nsp --dropout=0,0.1
    python run_ablation.py --embedding_sizes=64,128,256 --design=full --corpus=my.txt
    python run_ablation.py --finetune_task=sst-2 --finetune_data_dir=glue/SST-2
"""

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.experiments.ablation import DESIGNS, AblationSettings

AXIS_FLAGS = {
    "embedding_sizes": (int, "Embedding sizes E (Table 3)."),
    "sharing": (str, "Sharing modes: all, attention, ffn, none (Table 4)."),
    "objectives": (str, "Sentence-pair objectives: sop, nsp (Table 5)."),
    "dropout": (float, "Dropout rates, hidden and attention alike (Figure 3)."),
}
HELP = {
    "run_dir": "Folder for every artifact (ablation.md, cells/, logs/, plots/).",
    "corpus": "Your text: one sentence per line, blank lines between documents (default: "
              "the English documentation bundled with CPython).",
    "design": f"{' or '.join(DESIGNS)}: vary each axis alone around the base cell (the "
              "first value of every axis), or run every combination.",
    "hidden_size": "Hidden size of every cell.",
    "num_hidden_layers": "Layers of every cell.",
    "num_attention_heads": "Attention heads of every cell.",
    "intermediate_size": "Feed-forward size of every cell.",
    "vocab_size": "SentencePiece vocabulary size (shrunk to what the corpus supports).",
    "max_seq_length": "Sequence length of the records (and of fine-tuning).",
    "dupe_factor": "Passes over the corpus with different masks.",
    "train_steps": "Pretraining steps of every cell.",
    "batch_size": "Pretraining batch size of every cell.",
    "learning_rate": "Pretraining peak learning rate (LAMB).",
    "eval_batches": "Most held-out batches per evaluation.",
    "finetune_task": "continuation (derived from the corpus), a run_classifier task name "
                     "(with --finetune_data_dir), or none.",
    "finetune_data_dir": "The fine-tuning task's files.",
    "finetune_steps": "Fine-tuning steps of every cell.",
    "finetune_batch_size": "Fine-tuning batch size.",
    "finetune_learning_rate": "Fine-tuning peak learning rate (AdamW).",
    "transition_sequences": "Held-out sequences in the layer-transition analysis.",
    "seed": "Seed for data, weights and the task (shared by every cell).",
    "force": "Re-run every stage, even those whose outputs are current.",
}
define_flags(AblationSettings, HELP)
for _name, (_kind, _help) in AXIS_FLAGS.items():
    flags.DEFINE_list(_name, [str(v) for v in getattr(AblationSettings, _name)], _help)


def axis_values(values, name: str, kind):
    from albert_tf.experiments.ablation import AblationSettingsError

    try:
        return tuple(kind(value) for value in values[name].value)
    except ValueError:
        raise AblationSettingsError(f"--{name}: expected {kind.__name__} values, got "
                                    f"{values[name].value}") from None


def main(values):
    from albert_tf.experiments.ablation import AblationRun

    settings = AblationSettings(
        **settings_from_flags(values, HELP),
        **{name: axis_values(values, name, kind) for name, (kind, _) in AXIS_FLAGS.items()})
    run = AblationRun(settings)
    logging.info("%d cells: %s", len(run.cells), ", ".join(cell.name for cell in run.cells))
    run.run()
    logging.info("report: %s", run.path("ablation.md"))
    print(run.path("ablation.md"))


run = entry_point("run_ablation", main)

if __name__ == "__main__":
    run()
