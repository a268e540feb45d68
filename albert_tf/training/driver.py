"""The one driver: checks, restores, records, trains and concludes any `Task`."""

from typing import Dict

import tensorflow as tf

from albert_tf.io_utils import check_writable
from albert_tf.training.folder_lock import FolderLock
from albert_tf.training.loop import TrainingLoop, check_loop_settings, check_output_dir_config
from albert_tf.training.run_record import ResumeCheck, write_run_record
from albert_tf.training.settings import LoopSettings
from albert_tf.training.task import Task


def run_task(task: Task, settings: LoopSettings,
             strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Runs `task` as its settings ask: every check first (nothing is written before they
    pass: the settings, the data, the folder's model and what it was trained on), then
    resume or warm start, the run folder's record (config, tokenizer copy, settings),
    training (when `do_train`) and the task's conclusion (evaluations, predictions,
    export), all under the run folder's lock (`FolderLock`: one writer per folder).
    Returns what each produced: `train` (the last logged values) plus the task's
    own results."""
    check_loop_settings(settings, strategy)
    check_writable(settings.output_dir, "output_dir")
    if not strategy.extended.should_checkpoint:  # a non-chief worker writes nothing kept
        return _run_task(task, settings, strategy)
    with FolderLock(settings.output_dir):  # before anything in the folder is read
        return _run_task(task, settings, strategy)


def _run_task(task: Task, settings: LoopSettings,
              strategy: tf.distribute.Strategy) -> Dict[str, object]:
    check_output_dir_config(settings.output_dir, settings.albert_config)
    resume = ResumeCheck(settings)
    identity = {"model": task.model_identity()}
    resume.same_model(identity["model"])  # before the data is read: a clearer refusal
    task.validate(strategy)
    identity["data"] = task.data_identity()
    phase = resume.same_data(identity["data"])
    loop = TrainingLoop(task, settings, strategy)
    loop.restore()
    if loop.is_chief:
        write_run_record(task.kind, settings, identity, task.run_tokenizer, phase,
                         resume.record)
    results: Dict[str, object] = {}
    if settings.do_train:
        results["train"] = loop.train()
    with loop.inference_precision():
        results.update(task.conclude(loop))
    return results
