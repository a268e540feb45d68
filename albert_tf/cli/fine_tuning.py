"""run_classifier's driver: fine-tune (tasks/), then export the result (export/)."""

from typing import Dict

import tensorflow as tf

from albert_tf.export.saved_model import export_fine_tuned_run
from albert_tf.tasks.classification import ClassificationTask, ClassifierSettings
from albert_tf.training.driver import run_task


def run(settings: ClassifierSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains, evaluates and predicts as the settings ask, then (chief only) exports the
    best weights when `settings.export_dir` is set; returns what each step produced."""
    task = ClassificationTask(settings)
    results = run_task(task, settings, strategy)
    if settings.export_dir and strategy.extended.should_checkpoint:
        results["export"] = export_fine_tuned_run(
            settings.output_dir, settings.albert_config, settings.task, task.tokenizer,
            settings.max_seq_length, settings.export_dir, settings.export_model_name)
    return results
