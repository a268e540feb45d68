"""Fine-tuning for multiple choice (RACE), as the original run_race: one logit per choice
from the pooled output, softmax cross-entropy over the choices.

Evaluates on dev after every checkpoint (accuracy overall and per level, middle and
high, and the mean loss), keeps the weights of the most accurate evaluation in
`output_dir/best/`, and writes `eval_results.json`. `--do_predict` writes
`predictions.jsonl` for the test split from the best weights: per question its article
id, question number, level, the chosen letter and every choice's probability.
"""

import os
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.data.files import content_fingerprint
from albert_tf.data.race import (RaceExample, cached_race_split, level_files, race_dataset,
                                 read_race)
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.models.flops import model_flops_per_sequence
from albert_tf.models.losses import classification_losses
from albert_tf.models.multiple_choice import AlbertMultipleChoice
from albert_tf.tasks.encoder_task import EvaluatedFineTuningTask
from albert_tf.tasks.multiple_choice.settings import RaceSettings
from albert_tf.tasks.registry import MULTIPLE_CHOICE
from albert_tf.training.driver import run_task
from albert_tf.training.loop import TrainingError, TrainingLoop
from albert_tf.training.outputs import write_json_lines

PREDICTIONS_FILE = "predictions.jsonl"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def race_metrics(logits: np.ndarray, examples: List[RaceExample]) -> Dict[str, float]:
    """Accuracy overall and per level, the mean loss, and the counts, of logits
    [n, choices] against the examples' labels."""
    labels = np.array([e.label for e in examples])
    levels = np.array([e.level for e in examples])
    log_probabilities = np.log(softmax(logits.astype(np.float64)))
    correct = logits.argmax(-1) == labels
    results = {"accuracy": float(correct.mean()),
               "loss": float(-log_probabilities[np.arange(len(labels)), labels].mean()),
               "examples": len(examples)}
    for level in sorted(set(levels)):
        results[f"accuracy_{level}"] = float(correct[levels == level].mean())
        results[f"examples_{level}"] = int((levels == level).sum())
    return results


class MultipleChoiceTask(EvaluatedFineTuningTask):
    """RACE: the multiple-choice model, the cached splits, evaluation with best-checkpoint
    keeping, and predictions.

    Args:
        settings: The run's `RaceSettings`.
        tokenizer: The tokenizer, when the caller has one (else built from the settings).
    """

    kind = MULTIPLE_CHOICE
    unit = "questions"
    logged = ("loss", "accuracy")

    def __init__(self, settings: RaceSettings, tokenizer: Optional[Tokenizer] = None):
        super().__init__(settings, tokenizer)
        self._examples: Dict[str, List[RaceExample]] = {}
        self._paths: Dict[str, str] = {}
        self._predict_model = None

    @property
    def flops_per_sequence(self) -> float:
        # A "sequence" of the loop's throughput is one question: num_choices encoder rows.
        settings = self.settings
        return settings.num_choices * model_flops_per_sequence(
            settings.albert_config, settings.max_seq_length, num_classes=1)

    def build_model(self) -> AlbertMultipleChoice:
        return AlbertMultipleChoice(self.settings.albert_config, self.settings.num_choices,
                                    dropout_rate=self.settings.dropout_rate)

    # -- data ------------------------------------------------------------------------------

    def needed_splits(self) -> List[str]:
        settings = self.settings
        return ((["train"] if settings.do_train else []) + (["dev"] if settings.do_eval else [])
                + (["test"] if settings.do_predict else []))

    def examples(self, split: str) -> List[RaceExample]:
        if split not in self._examples:
            settings = self.settings
            examples = read_race(settings.data_dir, split, settings.levels,
                                 settings.num_choices, self.tokenizer)
            if split != "test" and any(e.label is None for e in examples):
                unlabelled = next(e for e in examples if e.label is None)
                raise TrainingError(f"{unlabelled.source}: no 'answers' in a {split} file")
            self._examples[split] = examples
        return self._examples[split]

    def split(self, split: str) -> str:
        """The split's TFRecord, encoded once per run (reused from the cache)."""
        if split not in self._paths:
            settings = self.settings
            self._paths[split] = cached_race_split(
                settings.data_dir, split, settings.levels, settings.num_choices,
                self.cache_dir, self.tokenizer, settings.max_seq_length,
                settings.max_qa_length, self.examples(split))
        return self._paths[split]

    def _dataset(self, split: str, batch_size: int, is_training: bool, context=None):
        settings = self.settings
        return race_dataset(self.split(split), settings.num_choices, settings.max_seq_length,
                            batch_size, is_training, context, seed=settings.seed)

    def train_dataset(self, context):
        return self._dataset("train", self.settings.train_batch_size, True, context)

    def replica_losses(self, model, features, training, global_batch, update_totals=None):
        logits = model(features, training=training)  # [batch, choices] float32
        labels = features["label_ids"]
        share = tf.cast(tf.shape(labels)[0], tf.float32) / float(global_batch)
        return {name: value * share
                for name, value in classification_losses(logits, labels).items()}

    # -- the run around training -----------------------------------------------------------

    def after_restore(self, loop: TrainingLoop) -> None:
        self.start_keeping(loop)
        if self.settings.do_train:
            count = len(self.examples("train"))
            logging.info("training on %d questions, %d steps of %d (%.1f epochs)", count,
                         self.settings.num_train_steps, self.settings.train_batch_size,
                         self.settings.num_train_steps * self.settings.train_batch_size
                         / count)
            self.split("train")
            if self.settings.do_eval:
                self.split("dev")  # encoded before training, not at the first checkpoint

    def model_identity(self) -> Dict[str, object]:
        settings = self.settings
        return {"task": "race", "num_choices": settings.num_choices,
                **self.tokenizer_identity()}

    def data_identity(self) -> Dict[str, object]:
        settings = self.settings
        data = {"max_seq_length": settings.max_seq_length,
                "max_qa_length": settings.max_qa_length,
                "train_batch_size": settings.train_batch_size,
                "levels": list(settings.levels)}
        if settings.do_train:
            data["train_data_sha256"] = content_fingerprint(
                [path for _, path in level_files(settings.data_dir, "train",
                                                 settings.levels)])
        return data

    default_export_name = "race"

    # -- evaluation and predictions --------------------------------------------------------

    def logits(self, model, split: str, batch_size: int) -> np.ndarray:
        """[questions, choices] float32 logits of a split, in file order."""
        if self._predict_model is not model:
            self._predict = tf.function(lambda features: model(features, training=False),
                                        reduce_retracing=True)
            self._predict_model = model
        return np.concatenate([self._predict(features).numpy()
                               for features in self._dataset(split, batch_size, False)])

    def evaluate(self, loop: TrainingLoop) -> Dict[str, float]:
        results = {"step": loop.step, **race_metrics(
            self.logits(loop.model, "dev", self.settings.eval_batch_size),
            self.examples("dev"))}
        logging.info("eval at step %d: %s", loop.step, results)
        return results

    def predict(self, loop: TrainingLoop) -> str:
        """Writes `predictions.jsonl` for the test split (the best weights)."""
        which = self.keeper.restore_best(loop.model, loop.step)
        logging.info("predicting the test split with the %s weights", which)
        examples = self.examples("test")
        logits = self.logits(loop.model, "test", self.settings.predict_batch_size)
        probabilities = softmax(logits.astype(np.float64))
        letters = self.settings.letters
        target = os.path.join(self.settings.output_dir, PREDICTIONS_FILE)
        if loop.is_chief:
            write_json_lines(target, [
                {"id": e.example_id, "question": e.question_index, "level": e.level,
                 "answer": letters[int(row.argmax())],  # as the evaluation decides
                 "probabilities": [round(float(value), 6) for value in p]}
                for e, row, p in zip(examples, logits, probabilities)])
        logging.info("wrote %d predictions of the %s weights to %s", len(examples), which,
                     target)
        return target


def run(settings: RaceSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains, evaluates and predicts as the settings ask; returns what each produced."""
    return run_task(MultipleChoiceTask(settings), settings, strategy)
