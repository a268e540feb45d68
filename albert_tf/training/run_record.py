"""What a run writes into its folder's run_settings.json, and the resume rule it enforces.

A task's `identity()` says what its weights are (`model`: task, labels, tokenizer, head)
and what they were trained on (`data`: the training file's content hash, sequence length,
batch, ...). Reusing a folder that holds weights with another `model` identity is always
refused (that is another run: use a new folder, or `--init_checkpoint` to start from its
weights). Training on in a folder with checkpoints under another `data` identity is
refused too, with every differing setting and its two values, unless `--new_phase` is
given: the weights then train on under the new settings, and the change is recorded in
the folder's `phases` with the step it started at (`ResumeCheck`).

The record (format 2, see checkpoints/layout.py) is written once every check has passed:

    {"format": 2, "kind": ..., "settings": {...every settings field...},
     "tokenizer": {"sha256": ..., "copied_from": ...}, "identity": {"model": ..., "data": ...},
     "phases": [{"step": ..., "changed": {setting: [before, after]}}]}

The settings name the tokenizer by its copy in `assets/`; `copied_from` (where it came
from) is a note, never opened. A run that does not train (evaluation, prediction) in a
folder that already has a record leaves it as it is.
"""

import os
from typing import Dict, List, Mapping, Optional

import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import TOKENIZER_FIELDS, RunLayout
from albert_tf.errors import AlbertTfError
from albert_tf.training.settings import LoopSettings, settings_record


class ResumeError(AlbertTfError, ValueError):
    """A run folder reused with settings it cannot honour; the message lists them."""


def _differences(before: Mapping[str, object], after: Mapping[str, object]) -> Dict[str, list]:
    """{key: [before, after]} for the keys both record with different values."""
    return {key: [before[key], after[key]] for key in after
            if key in before and before[key] != after[key]}


def _describe(changes: Mapping[str, list]) -> str:
    def short(value):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return "; ".join(f"{key}: {short(old)} (recorded) -> {short(new)} (now)"
                     for key, (old, new) in changes.items())


class ResumeCheck:
    """What `settings.output_dir` holds, read once before anything is written (its record,
    latest checkpoint and best weights), and the two checks of the resume rule.

    Args:
        settings: The run's settings.
    """

    def __init__(self, settings: LoopSettings):
        self.settings = settings
        self.layout = RunLayout(settings.output_dir)
        self.record = self.layout.read_record()
        self.checkpoint = tf.train.latest_checkpoint(self.layout.checkpoint_dir)
        self.has_weights = bool(self.checkpoint or tf.io.gfile.exists(
            self.layout.best_prefix + ".index"))

    def _recorded(self, part: str, current: Mapping[str, object]) -> Dict[str, object]:
        """The `model` or `data` identity recorded, read from a folder of an earlier
        version where it can be: the model from its run.json, the data from its settings."""
        if "format" in self.record:
            return dict((self.record.get("identity") or {}).get(part) or {})
        if part == "data":
            return {key: self.record[key] for key in current if key in self.record}
        return self.layout.read_legacy_identity() or {}

    def same_model(self, model: Mapping[str, object]) -> None:
        """Refuses a run in a folder holding the weights of another model (task, labels,
        tokenizer, head): that is another run, even with `new_phase`."""
        if self.record is None or not self.has_weights:
            return
        changed = _differences(self._recorded("model", model), model)
        if changed:
            folder = self.settings.output_dir
            raise ResumeError(
                f"--output_dir {folder} holds the weights of another run "
                f"({_describe(changed)}); use a new --output_dir, or --init_checkpoint="
                f"{folder} to start a new run from its weights")

    def same_data(self, data: Mapping[str, object]) -> Optional[Dict[str, object]]:
        """Refuses to train on in a folder with checkpoints under other training settings
        unless `new_phase`; returns the phase to record (None: no change)."""
        if self.record is None or not (self.settings.do_train and self.checkpoint):
            return None
        changed = _differences(self._recorded("data", data), data)
        if not changed:
            return None
        number = self.checkpoint.rsplit("-", 1)[-1]
        step = int(number) if number.isdigit() else None
        if not self.settings.new_phase:
            raise ResumeError(
                f"--output_dir {self.settings.output_dir} was trained with other settings "
                f"({_describe(changed)}); resuming would silently train on something else. "
                "Rerun with the recorded settings to resume, pass --new_phase to go on "
                "training these weights with the new settings (recorded as a phase in "
                "run_settings.json), or use a new --output_dir")
        logging.info("new phase from step %s: %s", step, _describe(changed))
        return {"step": step, "changed": changed}


def write_run_record(kind: str, settings: LoopSettings,
                     identity: Mapping[str, Mapping[str, object]], tokenizer,
                     phase: Optional[Mapping[str, object]],
                     previous: Optional[Mapping[str, object]]) -> None:
    """Writes albert_config.json, the tokenizer copy and run_settings.json (call it on the
    chief, once every check has passed). `tokenizer`: the run's (None: it has none);
    `previous`: the record the folder held (`ResumeCheck.record`)."""
    layout = RunLayout(settings.output_dir)
    if previous is not None and not settings.do_train:
        return  # evaluation and prediction leave the training record as it is
    os.makedirs(settings.output_dir, exist_ok=True)
    settings.albert_config.to_json_file(layout.config_file)
    values = settings_record(settings)
    formatted = previous if previous and "format" in previous else {}
    tokenizer_record = None
    relative = None
    if tokenizer is not None:
        relative = layout.store_tokenizer(tokenizer.source_file, tokenizer.file_setting,
                                          tokenizer.model_sha256)
        values["do_lower_case"] = tokenizer.lower_case
        kept = formatted.get("tokenizer") or {}
        tokenizer_record = {  # a resumed run's tokenizer is the copy: keep where it came from
            "sha256": tokenizer.model_sha256,
            "copied_from": kept["copied_from"] if kept.get("sha256") == tokenizer.model_sha256
            else os.path.abspath(tokenizer.source_file)}
    for field in TOKENIZER_FIELDS:
        if field in values:
            values[field] = relative if tokenizer and field == tokenizer.file_setting else None
    phases: List[Mapping[str, object]] = list(formatted.get("phases") or [])
    if phase:
        phases.append(phase)
    layout.write_record({"kind": kind, "settings": values, "tokenizer": tokenizer_record,
                         "identity": {part: dict(identity.get(part, {}))
                                      for part in ("model", "data")},
                         "phases": phases})
    if os.path.exists(layout.legacy_identity_file):  # superseded by the record's identity
        os.remove(layout.legacy_identity_file)
