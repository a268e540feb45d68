"""The end-to-end demo: text -> SentencePiece -> pretraining -> fine-tuning -> served answers.

Every stage that a user would run by hand runs the project's own entry script in a child
process, with the exact command printed and logged to `<run_dir>/logs/<stage>.log`, so the
demo doubles as a check of the documented commands. `<run_dir>/stages.json` records each
finished stage with a key over its settings and its upstream stages' keys: a re-run reuses
a stage whose key is unchanged, re-runs one whose settings (or an upstream stage) changed
after deleting its outputs, and lets an interrupted stage resume (pretraining and
fine-tuning continue from their last checkpoint). `force=True` starts every stage afresh.
"""

import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from absl import logging

from albert_tf.config import AlbertConfig
from albert_tf.demo import continuation_task
from albert_tf.demo.corpus import (read_corpus, python_docs_documents, split_documents,
                                   write_corpus)
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import check_writable, write_atomically

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
# Lines of TensorFlow's start-up chatter kept in the stage logs but not echoed.
_QUIET_PREFIXES = ("WARNING: All log messages before absl::InitializeLog", "I0000 ",
                   "To enable the following instructions", "E0000 ", "W0000 ")


class DemoError(AlbertTfError, RuntimeError):
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


@dataclasses.dataclass
class StageRecord:
    key: str
    seconds: float = 0.0
    finished: bool = False
    reused: bool = False
    commands: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    description: str
    outputs: Sequence[str]  # relative to run_dir; deleted when the stage must start afresh
    params: Dict[str, object]
    action: Callable[[], None]
    reusable: bool = True  # False: runs every time (the report summarizes this run)


class DemoPipeline:
    """Runs the stages in order; `run()` returns the stage records."""

    def __init__(self, settings: DemoSettings):
        settings.validate()
        self.settings = settings
        self.run_dir = os.path.abspath(settings.run_dir)
        self.records_path = self.path("stages.json")
        self.records: Dict[str, StageRecord] = self._load_records()
        self.current_name = "demo"

    def path(self, *parts: str) -> str:
        return os.path.join(self.run_dir, *parts)

    # --- the stages --------------------------------------------------------------------

    def stages(self) -> List[Stage]:
        s = self.settings
        return [
            Stage("corpus", "documents for pretraining (90%) and held-out evaluation (10%)",
                  ["corpus"], {"corpus": self._corpus_identity(), "seed": s.seed},
                  self.make_corpus),
            Stage("sentencepiece", "a unigram SentencePiece model with ALBERT's ids",
                  ["spm"], {"vocab_size": s.vocab_size}, self.train_sentencepiece),
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
            Stage("report", "report.md with settings, metrics, timings and plots",
                  ["report.md", "report.json", "plots"], {}, self.report, reusable=False),
        ]

    def make_corpus(self) -> None:
        s = self.settings
        if s.corpus:
            documents, source = read_corpus(s.corpus), s.corpus
        else:
            documents, source = python_docs_documents(), "CPython's bundled documentation"
        # Checked now rather than after pretraining: the task needs enough documents.
        continuation_task.split_task_documents(documents, s.seed, source=source)
        kept, heldout = split_documents(documents, 0.1, s.seed, source)
        write_corpus(kept, self.path("corpus", "pretrain.txt"))
        write_corpus(heldout, self.path("corpus", "heldout.txt"))
        summary = {"source": source, "documents": len(documents),
                   "sentences": sum(map(len, documents)),
                   "words": sum(len(line.split()) for d in documents for line in d),
                   "pretrain_documents": len(kept), "heldout_documents": len(heldout)}
        write_atomically(self.path("corpus", "summary.json"),
                         json.dumps(summary, indent=2).encode())
        self.say(f"{summary['documents']} documents, {summary['sentences']} sentences, "
                 f"{summary['words']} words from {source}")

    def train_sentencepiece(self) -> None:
        self.script("train_sentencepiece", input_file=self.path("corpus", "pretrain.txt"),
                    model_prefix=self.path("spm", "albert"), vocab_size=self.settings.vocab_size)

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
        documents = (read_corpus(self.path("corpus", "pretrain.txt"))
                     + read_corpus(self.path("corpus", "heldout.txt")))
        counts = continuation_task.write_continuation_task(
            documents, self.path("task"), self.settings.seed, source="the demo corpus")
        write_atomically(self.path("task", "counts.json"), json.dumps(counts).encode())
        self.say("examples per split: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    def finetune(self) -> None:
        s = self.settings
        self.script("run_classifier", **self.task_flags(),
                    data_dir=self.path("task"), output_dir=self.path("finetune"),
                    init_checkpoint=self.path("pretrain"),
                    albert_config_file=self.path("albert_config.json"),
                    spm_model_file=self.spm_model, max_seq_length=s.max_seq_length,
                    train_batch_size=s.finetune_batch_size, eval_batch_size=64,
                    learning_rate=s.finetune_learning_rate, optimizer="adamw",
                    train_step=s.finetune_steps, warmup_step=max(1, s.finetune_steps // 10),
                    save_checkpoints_steps=s.eval_every, log_steps=max(1, s.eval_every // 4),
                    seed=s.seed, do_train=True, do_eval=True, do_predict=True)

    def export(self) -> None:
        self.script("export_model", **self.task_flags(exporting=True),
                    init_checkpoint=self.path("finetune"),
                    albert_config_file=self.path("albert_config.json"),
                    spm_model_file=self.spm_model, max_seq_length=self.settings.max_seq_length,
                    export_dir=self.path("export"), model_name=EXPORT_NAME)

    def query(self) -> None:
        self.script("query_saved_model", model_dir=self.export_version_dir(),
                    input_tsv=self.path("task", "test.tsv"), text_a_column="sentence_a",
                    text_b_column="sentence_b", limit=self.settings.query_examples,
                    output_json=self.path("query.json"))

    def report(self) -> None:
        from albert_tf.demo.report import write_report

        write_report(self)

    # --- helpers the stages share --------------------------------------------------------

    def _corpus_identity(self) -> List[object]:
        """What makes the corpus stage's output current: the file as it is now (an edited
        corpus is read again), or the Python whose documentation is bundled."""
        if self.settings.corpus is None:
            return ["cpython-docs", list(sys.version_info[:2])]
        status = os.stat(self.settings.corpus)
        return [os.path.abspath(self.settings.corpus), status.st_size, status.st_mtime_ns]

    @property
    def spm_model(self) -> str:
        return self.path("spm", "albert.model")

    @property
    def max_predictions(self) -> int:
        # The original's ratio: 20 predictions for 128 tokens at masked_lm_prob 0.15.
        return max(1, round(self.settings.max_seq_length * 20 / 128))

    def task_flags(self, exporting: bool = False) -> Dict[str, object]:
        labels = ",".join(continuation_task.LABELS)
        if exporting:
            return {"task_name": "custom", "labels": labels, "text_pair": True}
        return {"task_name": "custom", "text_a_column": "sentence_a",
                "text_b_column": "sentence_b", "label_column": "label", "labels": labels}

    def model_config(self) -> AlbertConfig:
        import sentencepiece

        vocab_size = sentencepiece.SentencePieceProcessor(
            model_file=self.spm_model).get_piece_size()
        size = self.settings.model_size
        common = dict(vocab_size=vocab_size, max_position_embeddings=max(
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

    def say(self, message: str) -> None:
        logging.info("[%s] %s", self.current_name, message)

    def script(self, module: str, **flag_values) -> None:
        """Runs an entry script (`python -m module --flag=value ...`) in a child process,
        echoing its output and appending it to the stage's log."""
        arguments = [_flag(name, value) for name, value in flag_values.items()]
        shown = _shell_line([f"{module}.py"] + arguments, self.run_dir)
        self.records[self.current_name].commands.append(shown)
        self._save_records()  # a stage that fails or is killed still shows its command
        log_path = self.path("logs", f"{self.current_name}.log")
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        logging.info("[%s] $ %s", self.current_name, shown)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
        command = [self.settings.python, "-m", module] + arguments
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("$ " + " ".join(command) + "\n")
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, env=env)
            for line in process.stdout:
                log.write(line)
                log.flush()
                if not line.startswith(_QUIET_PREFIXES):
                    sys.stderr.write(f"[{self.current_name}] {line}")
            status = process.wait()
        if status != 0:
            raise DemoError(f"stage {self.current_name}: `{module}` exited with status "
                            f"{status}; its output is in {log_path}")

    # --- stage bookkeeping ---------------------------------------------------------------

    def run(self) -> Dict[str, StageRecord]:
        os.makedirs(self.run_dir, exist_ok=True)
        stages = self.stages()
        upstream_key = ""
        upstream_ran = False
        started = time.monotonic()
        for number, stage in enumerate(stages, start=1):
            key = hashlib.sha256(json.dumps([upstream_key, stage.name, stage.params],
                                            sort_keys=True).encode()).hexdigest()[:16]
            upstream_key = key
            record = self.records.get(stage.name)
            same_inputs = (record is not None and record.key == key and not upstream_ran
                           and not self.settings.force)
            if same_inputs and stage.reusable and record.finished and all(
                    os.path.exists(self.path(output)) for output in stage.outputs):
                record.reused = True
                logging.info("[%d/%d] %s: reused (finished earlier in %.1f s)", number,
                             len(stages), stage.name, record.seconds)
                continue
            if not same_inputs:  # start afresh; otherwise an interrupted stage resumes
                for output in stage.outputs:
                    _remove(self.path(output))
            logging.info("[%d/%d] %s: %s", number, len(stages), stage.name, stage.description)
            record = StageRecord(key=key)
            self.records[stage.name] = record
            self.current_name = stage.name
            self._save_records()
            begin = time.monotonic()
            stage.action()
            record.seconds = time.monotonic() - begin
            record.finished = True
            upstream_ran = True
            self._save_records()
            logging.info("[%d/%d] %s: done in %.1f s", number, len(stages), stage.name,
                         record.seconds)
        logging.info("demo finished in %.1f s: %s", time.monotonic() - started,
                     self.path("report.md"))
        return self.records

    def _load_records(self) -> Dict[str, StageRecord]:
        if not os.path.exists(self.records_path):
            return {}
        try:
            with open(self.records_path, encoding="utf-8") as handle:
                return {name: StageRecord(**values) for name, values in json.load(handle).items()}
        except (ValueError, TypeError) as error:
            logging.warning("%s is unreadable (%s): every stage runs again", self.records_path,
                            error)
            return {}

    def _save_records(self) -> None:
        write_atomically(self.records_path, json.dumps(
            {name: dataclasses.asdict(record) for name, record in self.records.items()},
            indent=2).encode())


def _flag(name: str, value) -> str:
    if value is True:
        return f"--{name}"
    if value is False:
        return f"--no{name}"
    return f"--{name}={value}"


def _shell_line(arguments: Sequence[str], run_dir: str) -> str:
    """The command as typed from the current folder (a run folder inside it shortened)."""
    short = os.path.relpath(run_dir)
    if short.startswith(os.pardir):
        short = run_dir
    return "python " + " ".join(shlex.quote(part.replace(run_dir, short)) for part in arguments)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
