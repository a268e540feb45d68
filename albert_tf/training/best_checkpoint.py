"""Keeping the best evaluated weights of a run, and the history of its evaluations.

`eval_results.json` lists every evaluation (one per line) and the best by the main
metric; `best/model` holds that evaluation's weights; `eval_dev/` the same numbers for
TensorBoard. A resumed run keeps the history up
to the step it resumes from and redoes the evaluations after it.
"""

import json
import os
from typing import Dict, List, Optional

import keras
import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.io_utils import write_atomically
from albert_tf.training.outputs import write_eval_summaries


class BestCheckpointKeeper:
    """The evaluation history of a run folder and the weights of its best evaluation.

    Args:
        layout: The run folder.
        metric: The results key that ranks evaluations (higher is better).
        is_chief: Whether this worker writes (under MultiWorkerMirrored only the chief).
    """

    def __init__(self, layout: RunLayout, metric: str, is_chief: bool = True):
        self.layout, self.metric, self.is_chief = layout, metric, is_chief
        self.history: List[Dict[str, float]] = []

    def load(self, step: int) -> None:
        """Reads the recorded evaluations up to `step` (the step the run resumes from)."""
        path = self.layout.results_file
        if not os.path.exists(path):
            self.history = []
            return
        with open(path, encoding="utf-8") as handle:
            history = json.load(handle)["evaluations"]
        self.history = [entry for entry in history if entry["step"] <= step]

    @property
    def best(self) -> Optional[Dict[str, float]]:
        return max(self.history, key=lambda entry: entry[self.metric], default=None)

    @property
    def latest(self) -> Optional[Dict[str, float]]:
        return self.history[-1] if self.history else None

    def record(self, results: Dict[str, float], model: keras.Model) -> bool:
        """Adds `results` (an evaluation of `model` at `results["step"]`, replacing one of
        the same step) and keeps `model`'s weights when it is the new best; returns
        whether it was."""
        step = results["step"]
        previous_best = self.best
        self.history = [entry for entry in self.history if entry["step"] != step] + [results]
        improved = previous_best is None or results[self.metric] > previous_best[self.metric]
        if improved:
            if self.is_chief:
                tf.train.Checkpoint(model=model).write(self.layout.best_prefix)
            logging.info("new best %s %.4f at step %d", self.metric, results[self.metric],
                         step)
        if self.is_chief:
            self._write()
            write_eval_summaries(self.layout.eval_logs("dev"), step, results)
        return improved

    def restore_best(self, model: keras.Model, current_step: int) -> str:
        """Loads the best evaluated weights into `model` (else keeps the current ones);
        returns which weights these are, for the log."""
        if not tf.io.gfile.exists(self.layout.best_prefix + ".index"):
            return f"latest (step {current_step})"
        tf.train.Checkpoint(model=model).read(self.layout.best_prefix).expect_partial()
        best = self.best
        return f"best ({self.metric} at step {best['step']})" if best else "best"

    def _write(self) -> None:
        lines = ",\n".join("    " + json.dumps(entry) for entry in self.history)
        text = (f'{{\n  "main_metric": "{self.metric}",\n'
                f'  "evaluations": [\n{lines}\n  ],\n'
                f'  "best": {json.dumps(self.best)}\n}}\n')
        write_atomically(self.layout.results_file, text.encode())
