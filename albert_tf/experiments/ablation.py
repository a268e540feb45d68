"""A grid of short pretraining runs over ALBERT's design choices (the paper's ablations).

Axes: embedding size (Table 3), cross-layer sharing (Table 4), NSP against SOP (Table 5)
and dropout (Figure 3). `one_at_a_time` (the paper's way) varies each axis alone around
the base cell (the first value of every axis); `full` runs every combination. Every cell
is an ordinary `run_pretraining.py` run in `cells/<cell>/pretrain` with the same steps,
batch and learning rate, evaluated on held-out records built both ways from the same
held-out documents (SOP pairs and NSP pairs), optionally fine-tuned on a classification
task with equal budgets, and analyzed for layer transitions (Figure 2). Stages are
`StagedRun` stages: a finished cell is reused, an interrupted one resumes, a cell whose
settings changed runs afresh, and cells do not depend on each other.

Example:

>>> settings = AblationSettings(embedding_sizes=(128, 64), sharing=("all", "none"),
...                             objectives=("sop", "nsp"), dropout=(0.0,))
>>> [cell.name for cell in grid_cells(settings)]
['E128-all-sop-drop0', 'E64-all-sop-drop0', 'E128-none-sop-drop0', 'E128-all-nsp-drop0']
"""

import dataclasses
import itertools
import os
import sys
from typing import Dict, List, Optional, Sequence

from albert_tf.config import SHARING_MODES, AlbertConfig
from albert_tf.errors import AlbertTfError
from albert_tf.experiments import continuation_task
from albert_tf.experiments.ablation_report import heldout_name
from albert_tf.experiments.corpus_run import CorpusRun
from albert_tf.experiments.staged_run import Stage, StageError
from albert_tf.io_utils import check_writable

OBJECTIVES = ("sop", "nsp")
DESIGNS = ("one_at_a_time", "full")
TRANSITIONS_DIR = "transitions"


class AblationError(StageError):
    """A stage of the grid failed; the message names the stage and its log file."""


class AblationSettingsError(AlbertTfError, ValueError):
    """A flag of the grid out of range; the message names it."""


@dataclasses.dataclass(frozen=True)
class AblationSettings:
    """What `run_ablation.py` takes; every field is a flag of the same name.

    Args:
        run_dir: Where every artifact goes.
        corpus: Text in the pretraining format; None: CPython's bundled documentation.
        embedding_sizes, sharing, objectives, dropout: The grid's axes; the first value of
            each is the base cell's.
        design: `one_at_a_time` (each axis alone around the base) or `full` (product).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: The model
            every cell shares.
        vocab_size: SentencePiece vocabulary (shrunk to what the corpus supports).
        max_seq_length, dupe_factor: Pretraining records.
        train_steps, batch_size, learning_rate: Every cell's pretraining budget (LAMB).
        eval_batches: Most held-out batches per evaluation.
        finetune_task: `continuation` (derived from the corpus, as in the demo), a
            run_classifier task name read from `finetune_data_dir`, or `none`.
        finetune_steps, finetune_batch_size, finetune_learning_rate: Every cell's
            fine-tuning budget (AdamW).
        transition_sequences: Held-out sequences in the layer-transition analysis.
        seed: One seed for the data, the weights and the task (all cells share it).
        force: Redo every stage.
        python: The interpreter that runs the entry scripts.
    """

    run_dir: str = "ablation_run"
    corpus: Optional[str] = None
    embedding_sizes: Sequence[int] = (128, 64, 256)
    sharing: Sequence[str] = ("all", "none", "attention", "ffn")
    objectives: Sequence[str] = ("sop", "nsp")
    dropout: Sequence[float] = (0.0, 0.1)
    design: str = "one_at_a_time"
    hidden_size: int = 128
    num_hidden_layers: int = 6
    num_attention_heads: int = 2
    intermediate_size: int = 512
    vocab_size: int = 8000
    max_seq_length: int = 64
    dupe_factor: int = 2
    train_steps: int = 500
    batch_size: int = 32
    learning_rate: float = 5e-3
    eval_batches: int = 100
    finetune_task: str = "continuation"
    finetune_data_dir: Optional[str] = None
    finetune_steps: int = 150
    finetune_batch_size: int = 32
    finetune_learning_rate: float = 2e-4
    transition_sequences: int = 256
    seed: int = 12345
    force: bool = False
    python: str = sys.executable

    def validate(self) -> None:
        for name, values in (("embedding_sizes", self.embedding_sizes),
                             ("sharing", self.sharing), ("objectives", self.objectives),
                             ("dropout", self.dropout)):
            if not values:
                raise AblationSettingsError(f"--{name} needs at least one value")
            if len(set(values)) != len(values):
                raise AblationSettingsError(f"--{name} lists a value twice: {list(values)}")
        for name, allowed, values in (("sharing", SHARING_MODES, self.sharing),
                                      ("objectives", OBJECTIVES, self.objectives)):
            unknown = [value for value in values if value not in allowed]
            if unknown:
                raise AblationSettingsError(f"--{name}: unknown {unknown}; expected some of "
                                            f"{', '.join(allowed)}")
        if self.design not in DESIGNS:
            raise AblationSettingsError(f"--design must be one of {', '.join(DESIGNS)}, got "
                                        f"{self.design!r}")
        if any(size < 1 for size in self.embedding_sizes):
            raise AblationSettingsError(f"--embedding_sizes must be positive, got "
                                        f"{list(self.embedding_sizes)}")
        if any(not 0.0 <= rate < 1.0 for rate in self.dropout):
            raise AblationSettingsError(f"--dropout rates must be in [0, 1), got "
                                        f"{list(self.dropout)}")
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "vocab_size", "dupe_factor", "train_steps",
                     "batch_size", "eval_batches", "finetune_steps", "finetune_batch_size",
                     "transition_sequences"):
            if getattr(self, name) < 1:
                raise AblationSettingsError(f"--{name} must be at least 1, got "
                                            f"{getattr(self, name)}")
        if self.max_seq_length < 16:
            raise AblationSettingsError(f"--max_seq_length must be at least 16, got "
                                        f"{self.max_seq_length}")
        if self.hidden_size % self.num_attention_heads:
            raise AblationSettingsError(
                f"--hidden_size={self.hidden_size} must be a multiple of "
                f"--num_attention_heads={self.num_attention_heads}")
        for name in ("learning_rate", "finetune_learning_rate"):
            if not getattr(self, name) > 0:
                raise AblationSettingsError(f"--{name} must be positive, got "
                                            f"{getattr(self, name)}")
        if self.corpus is not None and not os.path.isfile(self.corpus):
            raise AblationSettingsError(f"--corpus {self.corpus}: no such file")
        if self.finetune_task not in ("none", "continuation"):
            from albert_tf.data.glue import get_task

            get_task(self.finetune_task)  # raises, naming the known tasks
            if not self.finetune_data_dir or not os.path.isdir(self.finetune_data_dir):
                raise AblationSettingsError(
                    f"--finetune_task={self.finetune_task} needs --finetune_data_dir (a "
                    f"folder of its files), got {self.finetune_data_dir!r}")
        check_writable(self.run_dir, "run_dir")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid."""

    embedding_size: int
    sharing: str
    objective: str
    dropout: float

    @property
    def name(self) -> str:
        return f"E{self.embedding_size}-{self.sharing}-{self.objective}-drop{self.dropout:g}"

    def config(self, settings: AblationSettings, vocab_size: int) -> AlbertConfig:
        return AlbertConfig(
            vocab_size=vocab_size, embedding_size=self.embedding_size,
            hidden_size=settings.hidden_size, num_hidden_layers=settings.num_hidden_layers,
            num_attention_heads=settings.num_attention_heads,
            intermediate_size=settings.intermediate_size, sharing=self.sharing,
            hidden_dropout_prob=self.dropout, attention_probs_dropout_prob=self.dropout,
            max_position_embeddings=max(128, settings.max_seq_length))


def grid_cells(settings: AblationSettings) -> List[Cell]:
    """The cells to run, the base cell first, without repeats."""
    axes = (settings.embedding_sizes, settings.sharing, settings.objectives, settings.dropout)
    if settings.design == "full":
        cells = [Cell(*values) for values in itertools.product(*axes)]
    else:
        base = [values[0] for values in axes]
        cells = [Cell(*base)]
        for axis, values in enumerate(axes):
            for value in values[1:]:
                cells.append(Cell(*(base[:axis] + [value] + base[axis + 1:])))
    return list(dict.fromkeys(cells))


class AblationRun(CorpusRun):
    """The grid's stages: corpus, SentencePiece, records for each objective, the task,
    then per cell pretraining, held-out evaluation and fine-tuning, then the layer
    transitions of every cell and the report."""

    error_class = AblationError

    def __init__(self, settings: AblationSettings):
        settings.validate()
        self.settings = settings
        self.cells = grid_cells(settings)
        super().__init__(settings.run_dir, settings.force, settings.python)

    # --- the stages --------------------------------------------------------------------

    def stages(self) -> List[Stage]:
        s = self.settings
        trained_objectives = {cell.objective for cell in self.cells}
        finetuning = s.finetune_task != "none"
        stages = self.corpus_stages(check_task=s.finetune_task == "continuation")
        for objective in OBJECTIVES:  # held-out records both ways, whatever the grid
            stages.append(Stage(
                f"data_{objective}", f"{objective.upper()} records (training and held-out)",
                [f"data/{objective}"],
                {"max_seq_length": s.max_seq_length, "dupe_factor": s.dupe_factor,
                 "seed": s.seed, "train": objective in trained_objectives},
                lambda objective=objective: self.create_records(objective),
                after=["sentencepiece"]))
        if finetuning:
            stages.append(Stage("task", f"the fine-tuning task ({s.finetune_task})",
                                ["task"], {"task": s.finetune_task, "seed": s.seed,
                                           "data_dir": s.finetune_data_dir},
                                self.make_task, after=["corpus"]))
        for cell in self.cells:
            pretrain = f"pretrain/{cell.name}"
            stages.append(Stage(
                pretrain, f"pretraining {cell.name}", [f"cells/{cell.name}/pretrain"],
                {"cell": dataclasses.asdict(cell), "model": self._model_params(),
                 "steps": s.train_steps, "batch": s.batch_size, "lr": s.learning_rate},
                lambda cell=cell: self.pretrain(cell), after=[f"data_{cell.objective}"]))
            stages.append(Stage(
                f"evaluate/{cell.name}", f"held-out SOP and NSP records on {cell.name}",
                [f"cells/{cell.name}/pretrain/eval_results_{heldout_name(objective)}.json"
                 for objective in OBJECTIVES],
                {"batches": s.eval_batches}, lambda cell=cell: self.evaluate(cell),
                after=[pretrain, "data_sop", "data_nsp"]))
            if finetuning:
                stages.append(Stage(
                    f"finetune/{cell.name}", f"fine-tuning {cell.name} on {s.finetune_task}",
                    [f"cells/{cell.name}/finetune"],
                    {"steps": s.finetune_steps, "batch": s.finetune_batch_size,
                     "lr": s.finetune_learning_rate},
                    lambda cell=cell: self.finetune(cell), after=[pretrain, "task"]))
        stages.append(Stage(
            "transitions", "layer transitions of every cell on the held-out text",
            [TRANSITIONS_DIR], {"sequences": s.transition_sequences,
                                "max_seq_length": s.max_seq_length},
            self.analyze, after=[f"pretrain/{cell.name}" for cell in self.cells]))
        stages.append(Stage(
            "report", "ablation.md, ablation.json and plots",
            ["ablation.md", "ablation.json", "plots"], {}, self.report, reusable=False,
            after=[stage.name for stage in stages]))
        return stages

    def create_records(self, objective: str) -> None:
        s = self.settings
        splits = [("heldout", "heldout.txt", 1)]
        if objective in {cell.objective for cell in self.cells}:
            splits.insert(0, ("train", "pretrain.txt", s.dupe_factor))
        for split, text, dupe_factor in splits:
            # Both objectives' held-out records come from the same documents and seed.
            self.script("create_pretraining_data", input_file=self.path("corpus", text),
                        output_file=self.record_file(objective, split),
                        spm_model_file=self.spm_model, max_seq_length=s.max_seq_length,
                        max_predictions_per_seq=self.max_predictions,
                        dupe_factor=dupe_factor, random_seed=s.seed,
                        random_next_sentence=objective == "nsp")

    def make_task(self) -> None:
        s = self.settings
        if s.finetune_task != "continuation":
            os.makedirs(self.path("task"), exist_ok=True)  # the task reads finetune_data_dir
            return
        self.make_continuation_task("the grid's corpus")

    def pretrain(self, cell: Cell) -> None:
        s = self.settings
        config_file = self.cell_path(cell, "albert_config.json")
        cell.config(s, self.vocabulary_size()).to_json_file(config_file)
        self.script("run_pretraining", input_file=self.record_file(cell.objective, "train"),
                    output_dir=self.cell_path(cell, "pretrain"),
                    albert_config_file=config_file, train_batch_size=s.batch_size,
                    num_train_steps=s.train_steps,
                    num_warmup_steps=max(1, s.train_steps // 10),
                    learning_rate=s.learning_rate, optimizer="lamb",
                    save_checkpoints_steps=max(1, s.train_steps // 4),
                    log_steps=max(1, s.train_steps // 30), seed=s.seed)

    def evaluate(self, cell: Cell) -> None:
        s = self.settings
        run_dir = self.cell_path(cell, "pretrain")
        for objective in OBJECTIVES:
            self.script("run_pretraining", eval_file=self.record_file(objective, "heldout"),
                        output_dir=run_dir, eval_batch_size=s.batch_size,
                        max_eval_steps=s.eval_batches, eval_name=heldout_name(objective),
                        do_train=False, do_eval=True)

    def finetune(self, cell: Cell) -> None:
        s = self.settings
        if s.finetune_task == "continuation":
            task_flags = dict(continuation_task.classifier_flags(), data_dir=self.path("task"))
        else:
            task_flags = {"task_name": s.finetune_task, "data_dir": s.finetune_data_dir}
        self.script("run_classifier", **task_flags,
                    output_dir=self.cell_path(cell, "finetune"),
                    init_checkpoint=self.cell_path(cell, "pretrain"),
                    max_seq_length=s.max_seq_length,
                    train_batch_size=s.finetune_batch_size, eval_batch_size=64,
                    learning_rate=s.finetune_learning_rate, optimizer="adamw",
                    train_step=s.finetune_steps, warmup_step=max(1, s.finetune_steps // 10),
                    save_checkpoints_steps=max(1, s.finetune_steps // 4),
                    log_steps=max(1, s.finetune_steps // 10), seed=s.seed,
                    do_train=True, do_eval=True)

    def analyze(self) -> None:
        s = self.settings
        self.script("analyze_model",
                    init_checkpoint=",".join(self.cell_path(cell, "pretrain")
                                             for cell in self.cells),
                    labels=",".join(cell.name for cell in self.cells),
                    input_file=self.path("corpus", "heldout.txt"),
                    max_seq_length=s.max_seq_length, max_sequences=s.transition_sequences,
                    output_dir=self.path(TRANSITIONS_DIR))

    def report(self) -> None:
        from albert_tf.experiments.ablation_report import write_report

        write_report(self)

    # --- helpers -------------------------------------------------------------------------

    def cell_path(self, cell: Cell, *parts: str) -> str:
        return self.path("cells", cell.name, *parts)

    def record_file(self, objective: str, split: str) -> str:
        return self.path("data", objective, f"{split}.tfrecord")

    def _model_params(self) -> Dict[str, int]:
        s = self.settings
        return {"hidden_size": s.hidden_size, "num_hidden_layers": s.num_hidden_layers,
                "num_attention_heads": s.num_attention_heads,
                "intermediate_size": s.intermediate_size,
                "max_seq_length": s.max_seq_length}
