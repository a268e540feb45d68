"""A run folder read back typed: its kind (the task registry's entry), its settings
dataclass, its config and its tokenizer, all from inside the folder. The one reader of
run_settings.json; export, analysis, resume and warm starts go through it.

TensorFlow-free (the tokenizers load with sentencepiece and plain Python).

Example (a run folder of run_classifier):

    run = load_run("runs/sst2")
    run.kind, run.settings.max_seq_length, run.settings.task.labels
    tokenizer = run.tokenizer()          # assets/spiece.model, its sha256 checked
"""

import dataclasses
import os
from typing import Dict, Mapping, Optional, Tuple

from albert_tf.checkpoints.layout import (SETTINGS_FORMAT, TOKENIZER_FIELDS, RunFolderError,
                                          RunLayout)
from albert_tf.config import AlbertConfig
from albert_tf.data.tokenizers import Tokenizer, load_tokenizer
from albert_tf.tasks.registry import TaskEntry, entry
from albert_tf.training.settings import LoopSettings, SettingsError, settings_from_record

RECORD_KEYS = ("format", "kind", "settings", "tokenizer", "identity", "phases")


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """One run folder, read back.

    Attributes:
        layout: Its paths.
        entry: Its task's registry entry (`entry.kind`, `entry.settings_class`, ...).
        settings: Its settings, typed and validated; `output_dir` is where the folder is
            now, the tokenizer fields name the copy inside it; other paths (data, init
            checkpoint) are what the run was given, kept as a record and never opened.
        tokenizer_sha256: The sha256 of the run's tokenizer file (None: no tokenizer).
        legacy_tokenizer_path: A folder written by an earlier version records the path it
            was given instead of a copy; it is kept for the message, never opened.
        identity: What the run was trained on (`Task.identity()`), checked on resume.
        phases: The setting changes a resume made with `--new_phase`, by step.
        legacy: Written by an earlier version (settings format 1).
    """

    layout: RunLayout
    entry: TaskEntry
    settings: LoopSettings
    tokenizer_sha256: Optional[str] = None
    legacy_tokenizer_path: Optional[str] = None
    identity: Mapping[str, Mapping[str, object]] = dataclasses.field(default_factory=dict)
    phases: Tuple[Mapping[str, object], ...] = ()
    legacy: bool = False

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def folder(self) -> str:
        return self.layout.output_dir

    @property
    def config(self) -> AlbertConfig:
        return self.settings.albert_config

    def tokenizer(self, spm_model_file: Optional[str] = None,
                  vocab_file: Optional[str] = None,
                  do_lower_case: Optional[bool] = None) -> Optional[Tokenizer]:
        """The run's tokenizer: the copy inside the folder (its sha256 checked), or the file
        given, which must be the one the run was trained with; None when the run has none
        (pretraining records without a manifest). A folder of an earlier version without
        a copy needs the file given: the error names the flags."""
        settings = self.settings
        lower_case = settings.do_lower_case if do_lower_case is None else do_lower_case
        if do_lower_case is not None and do_lower_case != settings.do_lower_case:
            raise RunFolderError(f"--do_lower_case={do_lower_case} but {self.folder} was "
                                 f"trained with do_lower_case={settings.do_lower_case}")
        if spm_model_file or vocab_file:
            tokenizer = load_tokenizer(spm_model_file, vocab_file, lower_case)
            if self.tokenizer_sha256 and tokenizer.model_sha256 != self.tokenizer_sha256:
                raise RunFolderError(
                    f"--{tokenizer.file_setting} {tokenizer.source_file} is not the "
                    f"tokenizer {self.folder} was trained with (sha256 "
                    f"{tokenizer.model_sha256[:12]}... vs {self.tokenizer_sha256[:12]}...); "
                    "leave the flag out to use the run's own copy")
            return tokenizer
        inside = [field for field in TOKENIZER_FIELDS if getattr(settings, field)]
        if inside:
            path = getattr(settings, inside[0])
            if not os.path.isfile(path):
                raise RunFolderError(f"{path}: the run's tokenizer copy is missing from "
                                     f"{self.folder}; pass --spm_model_file or --vocab_file")
            tokenizer = load_tokenizer(*(getattr(settings, f) for f in TOKENIZER_FIELDS),
                                       lower_case)
            if self.tokenizer_sha256 and tokenizer.model_sha256 != self.tokenizer_sha256:
                raise RunFolderError(f"{path} is not the tokenizer {self.folder} recorded "
                                     f"(sha256 differs from {self.tokenizer_sha256[:12]}...): "
                                     "it changed after the run; restore it or pass the "
                                     "original with --spm_model_file or --vocab_file")
            return tokenizer
        if self.legacy_tokenizer_path:
            raise RunFolderError(
                f"{self.folder} was written by an earlier albert-tf and holds no copy of its "
                f"tokenizer (its run_settings.json names {self.legacy_tokenizer_path}, which "
                "is not opened: a run folder's files are only read from inside it); pass "
                "--spm_model_file (SentencePiece) or --vocab_file (WordPiece)")
        return None

    def results(self) -> Optional[Dict[str, object]]:
        """eval_results.json, or None."""
        return self.layout.read_results()


def is_run_folder(path: Optional[str]) -> bool:
    return bool(path) and os.path.isfile(RunLayout(path).settings_file)


def folder_of(checkpoint: str) -> str:
    """The folder whose files describe a checkpoint: the folder itself, or the run
    folder around a prefix (`run/checkpoints/ckpt-5`, `run/encoder/encoder`,
    `run/best/model`, `converted/ckpt-1`)."""
    if os.path.isdir(checkpoint):
        return checkpoint
    parent = os.path.dirname(checkpoint) or "."
    if os.path.basename(parent) in ("checkpoints", "encoder", "best"):
        return os.path.dirname(parent) or "."
    return parent


def find_run(checkpoint: Optional[str]) -> Optional[RunFolder]:
    """The run folder of a checkpoint (see `folder_of`), or None when that folder is not a
    run folder (a converted checkpoint, a bare prefix)."""
    if not checkpoint:
        return None
    folder = folder_of(checkpoint)
    return load_run(folder) if is_run_folder(folder) else None


def load_run(folder: str) -> RunFolder:
    """Reads a run folder: its kind, typed settings (unknown keys refused, every value
    checked, then `validate()`), config and tokenizer record. Errors name the file."""
    layout = RunLayout(folder)
    record = layout.read_record()
    if record is None:
        raise RunFolderError(f"{folder}: not a run folder (no run_settings.json); expected "
                             "the --output_dir of run_pretraining, run_classifier or "
                             "run_squad")
    source = layout.settings_file
    if not os.path.isfile(layout.config_file):
        raise RunFolderError(f"{folder}: no albert_config.json beside run_settings.json")
    config = AlbertConfig.from_json_file(layout.config_file)
    if "format" not in record:
        return _load_legacy(layout, record, config)
    unknown = sorted(set(record) - set(RECORD_KEYS))
    if unknown:
        raise RunFolderError(f"{source}: unknown key {unknown[0]!r}; expected "
                             f"{', '.join(RECORD_KEYS)}")
    if record["format"] != SETTINGS_FORMAT:
        raise RunFolderError(f"{source}: settings format {record['format']!r} is newer than "
                             f"this albert-tf reads ({SETTINGS_FORMAT}); upgrade albert-tf")
    task = _entry(record.get("kind"), source)
    values = record.get("settings")
    if not isinstance(values, dict):
        raise RunFolderError(f"{source}: 'settings' must be an object")
    given = {"albert_config": config, "output_dir": folder}
    for field in TOKENIZER_FIELDS:
        if field in values:
            given[field] = (layout.resolve_inside(values[field], field)
                            if values[field] is not None else None)
    tokenizer = record.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, dict):
        raise RunFolderError(f"{source}: 'tokenizer' must be an object or null")
    identity, phases = record.get("identity", {}), record.get("phases", [])
    if not isinstance(identity, dict) or not isinstance(phases, list):
        raise RunFolderError(f"{source}: 'identity' must be an object and 'phases' a list")
    return RunFolder(layout, task, _settings(task, values, source, given),
                     tokenizer_sha256=(tokenizer or {}).get("sha256"), identity=identity,
                     phases=tuple(phases))


def _load_legacy(layout: RunLayout, record: Dict[str, object],
                 config: AlbertConfig) -> RunFolder:
    """A folder written before settings format 2: flat settings beside `kind`, the
    tokenizer named by the path the run was given (never opened), its sha256 in run.json."""
    source = layout.settings_file
    values = dict(record)
    task = _entry(values.pop("kind", None), source)
    legacy_path = next((values[f] for f in TOKENIZER_FIELDS if values.get(f)), None)
    given = {"albert_config": config, "output_dir": layout.output_dir,
             **{field: None for field in TOKENIZER_FIELDS}}
    sha = (layout.read_legacy_identity() or {}).get("tokenizer_sha256")
    return RunFolder(layout, task, _settings(task, values, source, given),
                     tokenizer_sha256=sha, legacy_tokenizer_path=legacy_path, legacy=True)


def _entry(kind, source: str) -> TaskEntry:
    if not isinstance(kind, str):
        raise RunFolderError(f"{source}: no 'kind' of run recorded")
    try:
        return entry(kind)
    except ValueError as error:
        raise RunFolderError(f"{source}: {error}") from None


def _settings(task: TaskEntry, values: Mapping[str, object], source: str,
              given: Mapping[str, object]) -> LoopSettings:
    settings = settings_from_record(task.settings_class,
                                    {k: v for k, v in values.items() if k not in given},
                                    source, **given)
    try:
        settings.validate()
    except (SettingsError, ValueError) as error:
        raise RunFolderError(f"{source}: {error}") from None
    return settings


# Config fields that may differ between a warm start's source and the run (regularization
# and initialization, not the weights' shapes or meaning).
TRAINING_ONLY_CONFIG_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob",
                               "initializer_range")


def run_config(albert_config_file: Optional[str], preset: Optional[str], output_dir: str,
               init_checkpoint: Optional[str],
               overrides: Optional[Mapping[str, object]] = None) -> AlbertConfig:
    """A training run's config: `--albert_config_file` or `--preset` when given, else the
    albert_config.json of the run being resumed (`output_dir`), else the one beside
    `init_checkpoint` (a run folder or a converted checkpoint), with `overrides` (the
    model flags: `--hidden_size=...`) on top. A config given that describes another model
    than the one of the run in `output_dir` (when it holds checkpoints), or, for a warm
    start, than the checkpoint's, is an error naming both (for a warm start dropout and
    the initializer range may differ)."""
    if albert_config_file and preset:
        raise RunFolderError("give at most one of --albert_config_file and --preset")
    overrides = dict(overrides or {})
    given = (AlbertConfig.from_json_file(albert_config_file) if albert_config_file
             else AlbertConfig.from_preset(preset) if preset else None)
    resumed = RunLayout(output_dir).config_file if output_dir else None
    source = RunLayout(folder_of(init_checkpoint)).config_file if init_checkpoint else None
    if given is None:
        found = next((path for path in (resumed, source) if path and os.path.isfile(path)),
                     None)
        if found is None:
            raise RunFolderError("give --albert_config_file or --preset: neither --output_dir "
                                 "nor --init_checkpoint holds an albert_config.json")
        if not overrides:
            return AlbertConfig.from_json_file(found)
        given = AlbertConfig.from_json_file(found)
    base = albert_config_file or (f"--preset={preset}" if preset else "the folder's config")
    if overrides:
        given = given.replace(**overrides)
        base += " with " + " ".join(f"--{name}={value}" for name, value in overrides.items())
    what = base
    if resumed and os.path.isfile(resumed) and os.path.isfile(
            os.path.join(RunLayout(output_dir).checkpoint_dir, "checkpoint")):
        changed = AlbertConfig.from_json_file(resumed).differences(given)
        if changed:
            raise RunFolderError(
                f"{what} describes another model than the {resumed} of the run in "
                f"--output_dir {output_dir} ("
                + ", ".join(f"{name}: {theirs} in the folder vs {ours}"
                            for name, (theirs, ours) in changed.items())
                + "); leave the flag out to resume or evaluate with the folder's, or use a "
                "new --output_dir")
    if source and os.path.isfile(source):
        changed = AlbertConfig.from_json_file(source).differences(
            given, ignore=TRAINING_ONLY_CONFIG_FIELDS)
        if changed:
            raise RunFolderError(
                f"{what} describes another model than --init_checkpoint's {source} ("
                + ", ".join(f"{name}: {theirs} vs {ours}"
                            for name, (theirs, ours) in changed.items())
                + "); leave the flag out to use the checkpoint's")
    return given
