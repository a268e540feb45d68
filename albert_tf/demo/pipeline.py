"""The end-to-end demo: text -> SentencePiece -> pretraining -> fine-tuning -> served answers.

Every stage that a user would run by hand runs the project's own entry script in a child
process (`StagedRun`: the exact command printed and logged, finished stages reused on a
re-run, an interrupted one resumed, a changed one redone with everything after it).
"""

import dataclasses
import os
import sys
from typing import List, Optional

from albert_tf.config import AlbertConfig
from albert_tf.errors import AlbertTfError
from albert_tf.experiments import continuation_task
from albert_tf.experiments.corpus_run import CorpusRun
from albert_tf.experiments.staged_run import Stage, StageError
from albert_tf.io_utils import check_writable

# Model sizes the demo offers besides the named presets (base, large, ...). "small" is the
# default: in the demo's 600 steps on 2 CPU cores it moves the MLM loss well below the
# uniform guess (BENCHMARKS.md); "tiny" is for smoke runs.
DEMO_MODEL_SIZES = {
    "tiny": dict(embedding_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=128),
    "small": dict(embedding_size=128, hidden_size=256, num_hidden_layers=4,
                  num_attention_heads=4, intermediate_size=1024),
}
EXPORT_NAME = "continuation"
# Held-out sequences in the layer-transition analysis (a forward pass: seconds).
TRANSITION_SEQUENCES = 256
class DemoError(StageError):
    """A stage failed; the message names the stage and its log file."""


class DemoSettingsError(AlbertTfError, ValueError):
    """A demo flag out of range; the message names it."""


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """What `run_demo.py` takes; every field is a flag of the same name.

    Args:
        run_dir: Where every artifact goes.
        corpus: A text file in the pretraining format (one sentence per line, blank lines
            between documents); None: CPython's bundled English documentation.
        model_size: tiny, small, or an AlbertConfig preset (base, large, ...).
        vocab_size: SentencePiece vocabulary size (shrunk to what the corpus supports).
        max_seq_length: Sequence length for pretraining and fine-tuning.
        dupe_factor: Passes over the corpus with different masks.
        pretrain_steps, pretrain_batch_size, pretrain_learning_rate: Pretraining (LAMB).
        finetune_steps, finetune_batch_size, finetune_learning_rate: Fine-tuning (AdamW).
        eval_every: Fine-tuning steps between dev evaluations (and checkpoints).
        query_examples: Test pairs sent to the exported model in the query stage.
        seed: Seed for the data, the weights and the task.
        force: Re-run every stage even when its outputs are current.
        python: The interpreter that runs the entry scripts.
    """

    run_dir: str = "demo_run"
    corpus: Optional[str] = None
    model_size: str = "small"
    vocab_size: int = 8000
    max_seq_length: int = 128
    dupe_factor: int = 4
    pretrain_steps: int = 600
    pretrain_batch_size: int = 32
    pretrain_learning_rate: float = 5e-3
    finetune_steps: int = 400
    finetune_batch_size: int = 32
    finetune_learning_rate: float = 2e-4
    eval_every: int = 100
    query_examples: int = 8
    seed: int = 12345
    force: bool = False
    python: str = sys.executable

    def validate(self) -> None:
        if self.model_size not in DEMO_MODEL_SIZES:
            AlbertConfig.from_preset(self.model_size)  # raises, naming the known presets
        for name in ("vocab_size", "max_seq_length", "dupe_factor", "pretrain_steps",
                     "pretrain_batch_size", "finetune_steps", "finetune_batch_size",
                     "eval_every", "query_examples"):
            if getattr(self, name) < 1:
                raise DemoSettingsError(
                    f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.max_seq_length < 16:
            raise DemoSettingsError(f"--max_seq_length must be at least 16, got "
                                    f"{self.max_seq_length}")
        for name in ("pretrain_learning_rate", "finetune_learning_rate"):
            if not getattr(self, name) > 0:
                raise DemoSettingsError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.corpus is not None and not os.path.isfile(self.corpus):
            raise DemoSettingsError(f"--corpus {self.corpus}: no such file")
        check_writable(self.run_dir, "run_dir")


class DemoPipeline(CorpusRun):
    """Runs the demo's stages in order; `run()` returns the stage records."""

    error_class = DemoError

    def __init__(self, settings: DemoSettings):
        settings.validate()
        self.settings = settings
        super().__init__(settings.run_dir, settings.force, settings.python)

    # --- the stages --------------------------------------------------------------------

    def stages(self) -> List[Stage]:
        s = self.settings
        return self.corpus_stages() + [
            Stage("pretraining_data", "SOP instances with n-gram masking as TFRecords",
                  ["pretraining_data"], {"max_seq_length": s.max_seq_length,
                                         "dupe_factor": s.dupe_factor, "seed": s.seed},
                  self.create_pretraining_data),
            Stage("pretrain", "masked LM + sentence-order prediction, then held-out eval",
                  ["pretrain", "albert_config.json"],
                  {"model_size": s.model_size, "steps": s.pretrain_steps,
                   "batch": s.pretrain_batch_size, "lr": s.pretrain_learning_rate},
                  self.pretrain),
            Stage("task", "the continuation task (does sentence B follow sentence A?)",
                  ["task"], {"seed": s.seed}, self.make_task),
            Stage("finetune", "fine-tune on train, keep the best dev checkpoint, predict test",
                  ["finetune"], {"steps": s.finetune_steps, "batch": s.finetune_batch_size,
                                 "lr": s.finetune_learning_rate, "eval_every": s.eval_every},
                  self.finetune),
            Stage("export", "a versioned SavedModel for TF Serving (raw-text signature)",
                  ["export"], {}, self.export),
            Stage("query", "raw-text queries to the export from a process without albert_tf",
                  ["query.json"], {"examples": s.query_examples}, self.query),
            Stage("transitions", "layer transitions of the pretrained encoder on held-out text",
                  ["transitions"], {"sequences": TRANSITION_SEQUENCES}, self.analyze,
                  after=["pretrain"]),
            Stage("report", "report.md with settings, metrics, timings and plots",
                  ["report.md", "report.json", "plots"], {}, self.report, reusable=False),
        ]

    def create_pretraining_data(self) -> None:
        s = self.settings
        for split, text in (("train", "pretrain.txt"), ("heldout", "heldout.txt")):
            self.script("create_pretraining_data", input_file=self.path("corpus", text),
                        output_file=self.path("pretraining_data", f"{split}.tfrecord"),
                        spm_model_file=self.spm_model, max_seq_length=s.max_seq_length,
                        max_predictions_per_seq=self.max_predictions,
                        dupe_factor=s.dupe_factor if split == "train" else 1,
                        random_seed=s.seed)

    def pretrain(self) -> None:
        s = self.settings
        self.model_config().to_json_file(self.path("albert_config.json"))
        self.script("run_pretraining",
                    input_file=self.path("pretraining_data", "train.tfrecord"),
                    eval_file=self.path("pretraining_data", "heldout.tfrecord"),
                    output_dir=self.path("pretrain"),
                    albert_config_file=self.path("albert_config.json"),
                    max_seq_length=s.max_seq_length, max_predictions_per_seq=self.max_predictions,
                    train_batch_size=s.pretrain_batch_size, eval_batch_size=s.pretrain_batch_size,
                    num_train_steps=s.pretrain_steps,
                    num_warmup_steps=max(1, s.pretrain_steps // 10),
                    learning_rate=s.pretrain_learning_rate, optimizer="lamb",
                    save_checkpoints_steps=max(1, s.pretrain_steps // 4),
                    log_steps=max(1, s.pretrain_steps // 40), do_eval=True, seed=s.seed)

    def make_task(self) -> None:
        self.make_continuation_task("the demo corpus")

    def finetune(self) -> None:
        s = self.settings
        self.script("run_classifier", **continuation_task.classifier_flags(),
                    data_dir=self.path("task"), output_dir=self.path("finetune"),
                    init_checkpoint=self.path("pretrain"), max_seq_length=s.max_seq_length,
                    train_batch_size=s.finetune_batch_size, eval_batch_size=64,
                    learning_rate=s.finetune_learning_rate, optimizer="adamw",
                    train_step=s.finetune_steps, warmup_step=max(1, s.finetune_steps // 10),
                    save_checkpoints_steps=s.eval_every, log_steps=max(1, s.eval_every // 4),
                    seed=s.seed, do_train=True, do_eval=True, do_predict=True)

    def export(self) -> None:
        # The run folder says what it is (task, labels, length, its tokenizer copy).
        self.script("export_model", init_checkpoint=self.path("finetune"),
                    export_dir=self.path("export"), model_name=EXPORT_NAME)

    def analyze(self) -> None:
        self.script("analyze_model", init_checkpoint=self.path("pretrain"),
                    labels="pretrained", input_file=self.path("corpus", "heldout.txt"),
                    max_seq_length=self.settings.max_seq_length,
                    max_sequences=TRANSITION_SEQUENCES, output_dir=self.path("transitions"))

    def query(self) -> None:
        self.script("query_saved_model", model_dir=self.export_version_dir(),
                    input_tsv=self.path("task", "test.tsv"), text_a_column="sentence_a",
                    text_b_column="sentence_b", limit=self.settings.query_examples,
                    output_json=self.path("query.json"))

    def report(self) -> None:
        from albert_tf.demo.report import write_report

        write_report(self)

    # --- helpers the stages share --------------------------------------------------------

    def model_config(self) -> AlbertConfig:
        size = self.settings.model_size
        common = dict(vocab_size=self.vocabulary_size(), max_position_embeddings=max(
            128, self.settings.max_seq_length), hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
        if size in DEMO_MODEL_SIZES:
            return AlbertConfig(**DEMO_MODEL_SIZES[size], **common)
        return AlbertConfig.from_preset(size, **common)

    def export_version_dir(self) -> str:
        from albert_tf.export.saved_model import existing_versions

        versions = existing_versions(self.path("export", EXPORT_NAME))
        if not versions:
            raise DemoError(f"no export under {self.path('export', EXPORT_NAME)}")
        return self.path("export", EXPORT_NAME, str(max(versions)))
