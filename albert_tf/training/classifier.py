"""Fine-tuning a classifier or regressor (GLUE or a user's own TSV/CSV) on the shared loop.

Evaluates on dev after every checkpoint, keeps the weights of the best evaluation by the
task's main metric in `output_dir/best/`, and writes `eval_results.json`: every
evaluation (one per line) plus the best. `--do_predict` writes GLUE submission files from
the best weights (the latest checkpoint when nothing was evaluated).
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import Candidate
from albert_tf.data.classifier_data import cached_split, classifier_dataset
from albert_tf.data.glue import Task, TaskDataError
from albert_tf.data.tokenization import AlbertTokenizer
from albert_tf.io_utils import check_writable, write_atomically
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.training.loop import (LoopSettings, TrainingError, TrainingLoop,
                                     check_loop_settings, check_output_dir_config,
                                     model_flops_per_sequence, record_run)
from albert_tf.training.metrics import compute_metrics


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierSettings(LoopSettings):
    """The run_classifier flags as plain values (defaults: the original run_classifier)."""

    task: Task
    data_dir: str
    spm_model_file: str
    do_lower_case: bool = True
    max_seq_length: int = 512
    predict_batch_size: int = 8
    dropout_rate: float = 0.1
    do_train: bool = True
    do_eval: bool = False
    do_predict: bool = False
    export_dir: Optional[str] = None
    export_model_name: Optional[str] = None  # default: the task name, lower-cased
    train_batch_size: int = 32
    eval_batch_size: int = 8
    learning_rate: float = 5e-5
    optimizer: str = "adamw"
    num_train_steps: int = 1000
    num_warmup_steps: int = 0
    save_checkpoints_steps: int = 1000
    iterations_per_loop: int = 100
    log_steps: int = 100


class ClassifierRun(TrainingLoop):
    """Classifier model, cached data, evaluation, best checkpoint and predictions."""

    def __init__(self, settings: ClassifierSettings, strategy: tf.distribute.Strategy,
                 tokenizer: Optional[AlbertTokenizer] = None):
        self.task = settings.task
        self.logged = ("loss",) if self.task.is_regression else ("loss", "accuracy")
        self.sequence_length = settings.max_seq_length
        self.flops_per_sequence = model_flops_per_sequence(
            settings.albert_config, settings.max_seq_length, num_classes=self.task.num_outputs)
        self.tokenizer = tokenizer or AlbertTokenizer(settings.spm_model_file,
                                                      settings.do_lower_case)
        self.cache_dir = RunLayout(settings.output_dir).data_cache_dir
        super().__init__(settings, strategy)
        self.best_prefix = self.layout.best_prefix
        self.history: List[Dict[str, float]] = []
        self._splits: Dict[str, tuple] = {}
        self._examples: Dict[str, list] = {}
        # Traced once per run (not once per evaluation); batches of any size reuse it.
        self._predict = tf.function(lambda features: self.model(features, training=False),
                                    reduce_retracing=True)

    def build_model(self) -> AlbertClassifier:
        return AlbertClassifier(self.settings.albert_config, self.task.num_outputs,
                                dropout_rate=self.settings.dropout_rate)

    def warm_start_roots(self) -> List[Candidate]:
        encoder = self.model.encoder
        return [(("model", "encoder"), encoder), (("encoder",), encoder),
                (("model",), self.model)]

    def restore(self) -> int:
        step = super().restore()
        self.history = self._load_history()
        return step

    def examples(self, name: str):
        """The examples of a split, read once per run (before anything is written, so a
        bad row stops the run with nothing left behind)."""
        if name not in self._examples:
            examples = self.task.read(self.settings.data_dir, name)
            if not examples:
                raise TaskDataError(f"{self.task.path(self.settings.data_dir, name)}: no "
                                    "examples")
            self._examples[name] = examples
        return self._examples[name]

    def needed_splits(self) -> List[str]:
        settings, files = self.settings, self.task.files
        return ((["train"] if settings.do_train else [])
                + ([s for s in files if s == "dev" or s.startswith("dev_")]
                   if settings.do_eval else [])
                + (list(self.task.submission_names) if settings.do_predict else []))

    def split(self, name: str):
        """(TFRecord path, examples) of a split, read and encoded once per run."""
        if name not in self._splits:
            self._splits[name] = cached_split(self.task, name, self.settings.data_dir,
                                              self.cache_dir, self.tokenizer,
                                              self.settings.max_seq_length,
                                              self.examples(name))
        return self._splits[name]

    def _dataset(self, path: str, batch_size: int, is_training: bool, context=None):
        return classifier_dataset(path, self.settings.max_seq_length, batch_size, is_training,
                                  self.task.is_regression, context, seed=self.settings.seed)

    def train_dataset(self, context):
        return self._dataset(self.split("train")[0], self.settings.train_batch_size, True,
                             context)

    def replica_losses(self, features, training, global_batch):
        logits = self.model(features, training=training)  # [batch, outputs] float32
        labels = features["label_ids"]
        share = tf.cast(tf.shape(labels)[0], tf.float32) / float(global_batch)
        if self.task.is_regression:
            loss = tf.reduce_mean(tf.square(logits[:, 0] - labels))
            return {"loss": loss * share}
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels),
                          tf.float32)
        return {"loss": tf.reduce_mean(losses) * share,
                "accuracy": tf.reduce_mean(correct) * share}

    # -- training with evaluation ----------------------------------------------------------

    def train(self, on_checkpoint=None) -> Dict[str, float]:
        count = len(self.split("train")[1])
        logging.info("training on %d examples, %d steps of %d (%.1f epochs)", count,
                     self.settings.num_train_steps, self.settings.train_batch_size,
                     self.settings.num_train_steps * self.settings.train_batch_size / count)
        if self.settings.do_eval:
            self.split("dev")  # encode before training starts, not at the first checkpoint
        return super().train(on_checkpoint or (
            self.evaluate_and_keep_best if self.settings.do_eval else None))

    def predict_outputs(self, path: str, batch_size: int) -> np.ndarray:
        """Logits [n, classes] (classification) or scores [n] (regression), in file order."""
        outputs = [self._predict(features).numpy()
                   for features in self._dataset(path, batch_size, False)]
        outputs = np.concatenate(outputs)
        return outputs[:, 0] if self.task.is_regression else outputs

    def evaluate(self) -> Dict[str, float]:
        """The task's metrics on dev at the current weights; other dev splits (MNLI's
        mismatched) add their metrics with the split's suffix."""
        results: Dict[str, float] = {"step": self.step}
        for split in [s for s in self.task.files if s == "dev" or s.startswith("dev_")]:
            path, examples = self.split(split)
            outputs = self.predict_outputs(path, self.settings.eval_batch_size)
            if self.task.is_regression:
                labels, predictions = [float(e.label) for e in examples], outputs
            else:
                labels = [self.task.labels.index(e.label) for e in examples]
                predictions = np.argmax(outputs, -1)
            suffix = split[len("dev"):]
            for name, value in compute_metrics(self.task.metrics, labels, predictions).items():
                results[name + suffix] = value
            results["examples" + suffix] = len(examples)
        logging.info("eval at step %d: %s", self.step, results)
        return results

    def _load_history(self) -> List[Dict[str, float]]:
        path = self.layout.results_file
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            history = json.load(handle)["evaluations"]
        # A resumed run redoes the evaluations after the checkpoint it resumes from.
        return [entry for entry in history if entry["step"] <= self.step]

    @property
    def best(self) -> Optional[Dict[str, float]]:
        metric = self.task.main_metric
        return max(self.history, key=lambda entry: entry[metric], default=None)

    def evaluate_and_keep_best(self, step: int) -> Dict[str, float]:
        results = self.evaluate()
        previous_best = self.best
        self.history = [entry for entry in self.history if entry["step"] != step] + [results]
        metric = self.task.main_metric
        if previous_best is None or results[metric] > previous_best[metric]:
            if self.is_chief:
                tf.train.Checkpoint(model=self.model).write(self.best_prefix)
            logging.info("new best %s %.4f at step %d", metric, results[metric], step)
        if self.is_chief:
            self._write_history()
        return results

    def _write_history(self) -> None:
        lines = ",\n".join("    " + json.dumps(entry) for entry in self.history)
        text = (f'{{\n  "main_metric": "{self.task.main_metric}",\n'
                f'  "evaluations": [\n{lines}\n  ],\n'
                f'  "best": {json.dumps(self.best)}\n}}\n')
        write_atomically(self.layout.results_file, text.encode())

    def restore_best(self) -> str:
        """Loads the best evaluated weights (else keeps the current ones); returns which."""
        if not tf.io.gfile.exists(self.best_prefix + ".index"):
            return f"latest (step {self.step})"
        tf.train.Checkpoint(model=self.model).read(self.best_prefix).expect_partial()
        best = self.best
        return f"best ({self.task.main_metric} at step {best['step']})" if best else "best"

    def predict(self) -> List[str]:
        """Writes `<submission name>.tsv` (`index<TAB>prediction`) for each test split."""
        which = self.restore_best()
        written = []
        for split, name in self.task.submission_names.items():
            path, examples = self.split(split)
            outputs = self.predict_outputs(path, self.settings.predict_batch_size)
            if self.task.is_regression:
                predictions = [f"{value:.3f}" for value in outputs]
            else:
                predictions = [self.task.labels[i] for i in np.argmax(outputs, -1)]
            lines = ["index\tprediction"] + [f"{e.index}\t{p}"
                                             for e, p in zip(examples, predictions)]
            target = os.path.join(self.settings.output_dir, f"{name}.tsv")
            if self.is_chief:
                write_atomically(target, ("\n".join(lines) + "\n").encode())
            logging.info("wrote %d predictions of the %s weights to %s", len(examples), which,
                         target)
            written.append(target)
        return written


def run_identity(task: Task, tokenizer: AlbertTokenizer) -> Dict[str, object]:
    """What a fine-tuning run folder is tied to: resuming with another task, label set or
    tokenizer would mix two runs (and overwrite the first one's data cache)."""
    return {"task": task.name, "labels": list(task.labels) if task.labels else None,
            "text_columns": [task.text_a, task.text_b], "label_column": task.label,
            "spm_model_sha256": tokenizer.model_sha256,
            "do_lower_case": tokenizer.lower_case}


def check_classifier_settings(settings: ClassifierSettings,
                              tokenizer: AlbertTokenizer) -> Dict[str, object]:
    """Everything that can be checked before the run writes anything; returns the run's
    identity (see `run_identity`)."""
    config = settings.albert_config
    if not 5 <= settings.max_seq_length <= config.max_position_embeddings:
        raise TrainingError(f"--max_seq_length={settings.max_seq_length} must be between 5 "
                            "and the model's max_position_embeddings "
                            f"({config.max_position_embeddings})")
    if settings.predict_batch_size < 1:
        raise TrainingError(f"--predict_batch_size must be at least 1, got "
                            f"{settings.predict_batch_size}")
    if not 0.0 <= settings.dropout_rate < 1.0:
        raise TrainingError(f"dropout_rate must be in [0, 1), got {settings.dropout_rate}")
    if tokenizer.vocab_size > config.vocab_size:
        raise TrainingError(f"--spm_model_file {settings.spm_model_file} has "
                            f"{tokenizer.vocab_size} pieces but the config's vocab_size is "
                            f"{config.vocab_size}: ids past it have no embedding")
    identity = run_identity(settings.task, tokenizer)
    layout = RunLayout(settings.output_dir)
    previous = layout.read_run_identity()
    if previous is not None and previous != identity:
        changed = [f"{key}: {previous.get(key)!r} -> {value!r}"
                   for key, value in identity.items() if previous.get(key) != value]
        raise TrainingError(
            f"--output_dir {settings.output_dir} belongs to another fine-tuning run "
            f"({'; '.join(changed)}); use a new --output_dir")
    has_weights = (tf.train.latest_checkpoint(layout.checkpoint_dir)
                   or tf.io.gfile.exists(layout.best_prefix + ".index"))
    if settings.do_predict and not settings.do_train and not has_weights:
        raise TrainingError(f"--do_predict: {settings.output_dir} holds no fine-tuned "
                            "weights (no checkpoint, no best/), so the predictions would "
                            "come from an untrained classifier head; add --do_train")
    if settings.export_dir:
        check_writable(settings.export_dir, "export_dir")
    return identity


def run(settings: ClassifierSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains, evaluates and predicts as the settings ask; returns what each produced."""
    if not (settings.do_train or settings.do_eval or settings.do_predict):
        raise TrainingError("at least one of --do_train, --do_eval and --do_predict must be set")
    check_loop_settings(settings, strategy)
    check_output_dir_config(settings.output_dir, settings.albert_config)
    tokenizer = AlbertTokenizer(settings.spm_model_file, settings.do_lower_case)
    identity = check_classifier_settings(settings, tokenizer)
    runner = ClassifierRun(settings, strategy, tokenizer)
    for split in runner.needed_splits():
        runner.examples(split)
    if settings.do_train and settings.train_batch_size > len(runner.examples("train")):
        raise TrainingError(f"--train_batch_size={settings.train_batch_size} is larger than "
                            f"the {len(runner.examples('train'))} training examples")
    runner.restore()
    record_run("fine_tuning", settings, strategy)
    if runner.is_chief:
        write_atomically(runner.layout.run_file,
                         (json.dumps(identity, indent=2) + "\n").encode())
    results: Dict[str, object] = {}
    if settings.do_train:
        results["train"] = runner.train()
    if settings.do_eval:
        if not runner.history or runner.history[-1]["step"] != runner.step:
            runner.evaluate_and_keep_best(runner.step)
        results["eval"] = runner.history[-1]
        results["best"] = runner.best
    if settings.do_predict:
        results["predictions"] = runner.predict()
    return results
