"""The task registry: the one place the kinds of run live, each with its settings class,
its `Task` and its serving module (as Model Garden's `task_factory` and
`serving_modules`). A run folder's `run_settings.json` names its kind; `entry(kind)` says
how to read, resume and export it.

TensorFlow-free: the `Task` and serving modules are named by import path and imported
only when asked for, so reading a run folder's settings costs no TensorFlow start-up.

Example:

>>> entry(CLASSIFICATION).settings_class.__name__, entry("fine_tuning").kind
('ClassifierSettings', 'classification')
>>> entry("ner")
Traceback (most recent call last):
...
albert_tf.tasks.registry.UnknownTaskError: unknown kind of run 'ner'; expected one of pretraining, classification, question_answering, multiple_choice
"""

import dataclasses
import importlib
from typing import Dict, Type

from albert_tf.errors import AlbertTfError
from albert_tf.tasks.classification.settings import ClassifierSettings
from albert_tf.tasks.multiple_choice.settings import RaceSettings
from albert_tf.tasks.pretraining.settings import PretrainingSettings
from albert_tf.tasks.question_answering.settings import QASettings
from albert_tf.training.settings import LoopSettings

PRETRAINING = "pretraining"
CLASSIFICATION = "classification"
QUESTION_ANSWERING = "question_answering"
MULTIPLE_CHOICE = "multiple_choice"
# Kinds that run folders written by earlier versions record.
LEGACY_KINDS = {"fine_tuning": CLASSIFICATION}


class UnknownTaskError(AlbertTfError, ValueError):
    """A kind of run (or settings class) the registry does not know."""


@dataclasses.dataclass(frozen=True)
class TaskEntry:
    """What the registry knows of one kind of run.

    Args:
        kind: The name recorded in run_settings.json.
        settings_class: Its settings dataclass (a `LoopSettings`).
        task_path: `module:Class` of its `Task`.
        serving_path: The module whose `serving_module(source, options)` builds its
            SavedModel module.
        script: The entry script that trains it (for messages).
    """

    kind: str
    settings_class: Type[LoopSettings]
    task_path: str
    serving_path: str
    script: str

    def task_class(self):
        module, name = self.task_path.split(":")
        return getattr(importlib.import_module(module), name)

    def serving(self):
        return importlib.import_module(self.serving_path)


ENTRIES: Dict[str, TaskEntry] = {entry.kind: entry for entry in (
    TaskEntry(PRETRAINING, PretrainingSettings,
              "albert_tf.tasks.pretraining.task:PretrainingTask",
              "albert_tf.tasks.pretraining.serving", "run_pretraining"),
    TaskEntry(CLASSIFICATION, ClassifierSettings,
              "albert_tf.tasks.classification.task:ClassificationTask",
              "albert_tf.tasks.classification.serving", "run_classifier"),
    TaskEntry(QUESTION_ANSWERING, QASettings,
              "albert_tf.tasks.question_answering.task:QuestionAnsweringTask",
              "albert_tf.tasks.question_answering.serving", "run_squad"),
    TaskEntry(MULTIPLE_CHOICE, RaceSettings,
              "albert_tf.tasks.multiple_choice.task:MultipleChoiceTask",
              "albert_tf.tasks.multiple_choice.serving", "run_race"),
)}


def entry(kind: str) -> TaskEntry:
    """The entry of a recorded kind (legacy names included)."""
    kind = LEGACY_KINDS.get(kind, kind)
    if kind not in ENTRIES:
        raise UnknownTaskError(f"unknown kind of run {kind!r}; expected one of "
                               f"{', '.join(ENTRIES)}")
    return ENTRIES[kind]


def entry_for_settings(settings: LoopSettings) -> TaskEntry:
    """The entry whose settings class `settings` is."""
    for candidate in ENTRIES.values():
        if type(settings) is candidate.settings_class:
            return candidate
    raise UnknownTaskError(f"no task takes {type(settings).__name__}")
