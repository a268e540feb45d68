"""The one driver: checks, restores, records, trains and concludes any `Task`."""

from typing import Dict

import tensorflow as tf

from albert_tf.training.loop import (TrainingLoop, check_loop_settings,
                                     check_output_dir_config, record_run)
from albert_tf.training.settings import LoopSettings
from albert_tf.training.task import Task


def run_task(task: Task, settings: LoopSettings,
             strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Runs `task` as its settings ask: every check first (nothing is written before they
    pass), then resume or warm start, the run folder's records, training (when
    `do_train`) and the task's conclusion (evaluations, predictions). Returns what each
    produced: `train` (the last logged values) plus the task's own results."""
    check_loop_settings(settings, strategy)
    task.validate(strategy)
    check_output_dir_config(settings.output_dir, settings.albert_config)
    loop = TrainingLoop(task, settings, strategy)
    loop.restore()
    record_run(task.kind, settings, strategy)
    if loop.is_chief:
        task.write_run_files(loop)
    results: Dict[str, object] = {}
    if settings.do_train:
        results["train"] = loop.train()
    results.update(task.conclude(loop))
    return results
