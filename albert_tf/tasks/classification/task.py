"""Fine-tuning a classifier or regressor (GLUE or a user's own TSV/CSV).

Evaluates on dev after every checkpoint, keeps the weights of the best evaluation by the
task's main metric in `output_dir/best/`, and writes `eval_results.json`: every
evaluation (one per line) plus the best. `--do_predict` writes GLUE (or CLUE) submission
files from the best weights (the latest checkpoint when nothing was evaluated).
"""

import functools
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.data.classifier_data import cached_lengths, cached_split, classifier_dataset
from albert_tf.data.files import content_fingerprint
from albert_tf.data.glue import TaskDataError
from albert_tf.data.length_batches import EXAMPLE_INDEX, in_file_order
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.flops import model_flops_per_sequence
from albert_tf.models.losses import classification_losses, regression_losses
from albert_tf.training.driver import run_task
from albert_tf.training.loop import TrainingLoop
from albert_tf.training.metrics import compute_metrics
from albert_tf.training.outputs import write_json_lines, write_tsv
from albert_tf.tasks.classification.settings import ClassifierSettings
from albert_tf.tasks.encoder_task import EvaluatedFineTuningTask
from albert_tf.tasks.registry import CLASSIFICATION


class ClassificationTask(EvaluatedFineTuningTask):
    """Sentence(-pair) classification or regression: the classifier model, the cached
    data splits, evaluation with best-checkpoint keeping, and submission files.

    Args:
        settings: The run's `ClassifierSettings`.
        tokenizer: The tokenizer, when the caller has one (else built from the settings).
    """

    kind = CLASSIFICATION

    def __init__(self, settings: ClassifierSettings, tokenizer: Optional[Tokenizer] = None):
        super().__init__(settings, tokenizer)
        self.data = settings.task
        self.logged = ("loss",) if self.data.is_regression else ("loss", "accuracy")
        self.main_metric = self.data.main_metric
        self._splits: Dict[str, tuple] = {}
        self._examples: Dict[str, list] = {}
        self._predict_model = None
        self._compiled = False  # the training step is XLA-compiled: one shape per bucket

    @functools.cached_property
    def sequence_length(self) -> int:
        """With batches by length, the training examples' mean real length: tokens/s
        and MFU then count the tokens that are there, not `max_seq_length` (read once,
        from the training cache's sidecar)."""
        if not self.settings.batch_by_length:
            return self.settings.max_seq_length
        return max(1, round(cached_lengths(self.split("train")[0])["mean_length"]))

    @property
    def flops_per_sequence(self) -> float:
        return model_flops_per_sequence(self.settings.albert_config, self.sequence_length,
                                        num_classes=self.data.num_outputs)

    def build_model(self) -> AlbertClassifier:
        return AlbertClassifier(self.settings.albert_config, self.data.num_outputs,
                                dropout_rate=self.settings.dropout_rate)

    # -- data ------------------------------------------------------------------------------

    def examples(self, name: str):
        """The examples of a split, read once per run (before anything is written, so a
        bad row stops the run with nothing left behind)."""
        if name not in self._examples:
            examples = self.data.read(self.settings.data_dir, name)
            if not examples:
                raise TaskDataError(f"{self.data.path(self.settings.data_dir, name)}: no "
                                    "examples")
            self._examples[name] = examples
        return self._examples[name]

    def dev_splits(self) -> List[str]:
        return [s for s in self.data.files if s == "dev" or s.startswith("dev_")]

    def needed_splits(self) -> List[str]:
        settings = self.settings
        return ((["train"] if settings.do_train else [])
                + (self.dev_splits() if settings.do_eval else [])
                + (list(self.data.submission_names) if settings.do_predict else []))

    def split(self, name: str):
        """(TFRecord path, examples) of a split, read and encoded once per run."""
        if name not in self._splits:
            self._splits[name] = cached_split(self.data, name, self.settings.data_dir,
                                              self.cache_dir, self.tokenizer,
                                              self.settings.max_seq_length,
                                              self.examples(name))
        return self._splits[name]

    def _dataset(self, path: str, batch_size: int, is_training: bool, context=None):
        return classifier_dataset(path, self.settings.max_seq_length, batch_size, is_training,
                                  self.data.is_regression, context, seed=self.settings.seed,
                                  by_length=self.settings.batch_by_length,
                                  pad_to_bucket=is_training and self._compiled)

    def train_dataset(self, context):
        return self._dataset(self.split("train")[0], self.settings.train_batch_size, True,
                             context)

    def replica_losses(self, model, features, training, global_batch, update_totals=None):
        outputs = model(features, training=training)  # [batch, outputs] float32
        labels = features["label_ids"]
        share = tf.cast(tf.shape(labels)[0], tf.float32) / float(global_batch)
        losses = (regression_losses if self.data.is_regression
                  else classification_losses)(outputs, labels)
        return {name: value * share for name, value in losses.items()}

    # -- the run around training -----------------------------------------------------------

    def after_restore(self, loop: TrainingLoop) -> None:
        self._compiled = loop.jit_compile
        self.start_keeping(loop)
        if self.settings.do_train:
            count = len(self.split("train")[1])
            logging.info("training on %d examples, %d steps of %d (%.1f epochs)", count,
                         self.settings.num_train_steps, self.settings.train_batch_size,
                         self.settings.num_train_steps * self.settings.train_batch_size
                         / count)
            if self.settings.do_eval:
                self.split("dev")  # encode before training starts, not at the first checkpoint

    def model_identity(self) -> Dict[str, object]:
        """The task, its labels and columns, and the tokenizer."""
        task = self.data
        return {"task": task.name, "labels": list(task.labels) if task.labels else None,
                "text_columns": [task.text_a, task.text_b], "label_column": task.label,
                **self.tokenizer_identity()}

    def data_identity(self) -> Dict[str, object]:
        """The training file's content, the length and the batch."""
        settings = self.settings
        data = {"max_seq_length": settings.max_seq_length,
                "train_batch_size": settings.train_batch_size}
        if settings.do_train:
            data["train_data_sha256"] = content_fingerprint(
                [self.data.path(settings.data_dir, "train")])
        return data

    @property
    def default_export_name(self) -> str:
        return self.data.name.lower()

    # -- evaluation and predictions --------------------------------------------------------

    def predict_outputs(self, model, path: str, batch_size: int) -> np.ndarray:
        """Logits [n, classes] (classification) or scores [n] (regression), in file order."""
        if self._predict_model is not model:
            # Traced once per run (not once per evaluation); batches of any size reuse it.
            self._predict = tf.function(lambda features: model(features, training=False),
                                        reduce_retracing=True)
            self._predict_model = model
        outputs, indices = [], []
        for features in self._dataset(path, batch_size, False):
            outputs.append(self._predict(features).numpy())
            if EXAMPLE_INDEX in features:
                indices.append(features[EXAMPLE_INDEX].numpy())
        outputs = in_file_order(outputs, indices) if indices else np.concatenate(outputs)
        return outputs[:, 0] if self.data.is_regression else outputs

    def evaluate(self, loop: TrainingLoop) -> Dict[str, float]:
        """The task's metrics on dev at the current weights; other dev splits (MNLI's
        mismatched) add their metrics with the split's suffix."""
        results: Dict[str, float] = {"step": loop.step}
        for split in self.dev_splits():
            path, examples = self.split(split)
            outputs = self.predict_outputs(loop.model, path, self.settings.eval_batch_size)
            if self.data.is_regression:
                labels, predictions = [float(e.label) for e in examples], outputs
            else:
                labels = [self.data.labels.index(e.label) for e in examples]
                predictions = np.argmax(outputs, -1)
            suffix = split[len("dev"):]
            for name, value in compute_metrics(self.data.metrics, labels, predictions).items():
                results[name + suffix] = value
            results["examples" + suffix] = len(examples)
        logging.info("eval at step %d: %s", loop.step, results)
        return results

    def predict(self, loop: TrainingLoop) -> List[str]:
        """Writes `<submission name>.tsv` (`index<TAB>prediction`, GLUE's format) for each
        test split; CLUE's `<submission name>.json` (`{"id": ..., "label": ...}` lines)
        for its JSON-lines tasks."""
        which = self.keeper.restore_best(loop.model, loop.step)
        logging.info("predicting the test split(s) %s with the %s weights",
                     ", ".join(self.data.submission_names), which)
        written = []
        for split, name in self.data.submission_names.items():
            path, examples = self.split(split)
            outputs = self.predict_outputs(loop.model, path, self.settings.predict_batch_size)
            if self.data.is_regression:
                predictions = [f"{value:.3f}" for value in outputs]
            else:
                predictions = [self.data.labels[i] for i in np.argmax(outputs, -1)]
            clue = self.data.json_lines
            target = os.path.join(self.settings.output_dir, f"{name}.{'json' if clue else 'tsv'}")
            if loop.is_chief and clue:
                write_json_lines(target, [{"id": int(e.index) if e.index.isdigit() else e.index,
                                           "label": p} for e, p in zip(examples, predictions)])
            elif loop.is_chief:
                write_tsv(target, ("index", "prediction"),
                          [(e.index, p) for e, p in zip(examples, predictions)])
            logging.info("wrote %d predictions of the %s weights to %s", len(examples), which,
                         target)
            written.append(target)
        return written


def run(settings: ClassifierSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains, evaluates and predicts as the settings ask; returns what each produced."""
    return run_task(ClassificationTask(settings), settings, strategy)
