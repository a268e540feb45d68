"""Extractive question answering (SQuAD v1.1 and v2.0, CMRC 2018): span fine-tuning,
predictions and the official scores.

Training reads `train_file`, turns it into doc-stride windows (cached, see
qa_records.py) and minimizes the original run_squad_v1 objective. `do_predict` runs the
model over `predict_file`'s windows, picks each question's best spans (`squad.best_spans`)
and writes `predictions.json` (id -> answer text, a substring of the given context),
`nbest_predictions.json` and, when the file has gold answers, `eval_results.json` with
the official metric (SQuAD v1.1, or CMRC 2018's for `evaluation="cmrc2018"`).
With `version_2_with_negative` the model is the original run_squad_v2's (answerability
head), or with `v2_head="null_score"` BERT's span head, whose null odds are the [CLS]
span's score minus the best span's; `null_odds.json` holds each question's null odds; on a file with answers the
threshold with the best F1 decides which questions are answered "" and the SQuAD v2.0
scores (with best_exact/best_f1 and their thresholds) go to `eval_results.json`.
"""

import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.data.files import content_fingerprint
from albert_tf.data.qa_records import cached_features, qa_dataset
from albert_tf.data.squad import (best_spans, best_spans_with_null, group_by_example,
                                  read_squad)
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import check_writable
from albert_tf.models.answerability_qa import AlbertAnswerabilityQA
from albert_tf.models.flops import model_flops_per_sequence
from albert_tf.models.losses import answerability_span_losses, span_losses
from albert_tf.models.question_answering import AlbertQuestionAnswering
from albert_tf.training.driver import run_task
from albert_tf.training.loop import TrainingError
from albert_tf.training.outputs import write_eval_summaries, write_json
from albert_tf.training.squad_metrics import evaluate_cmrc, evaluate_v1, evaluate_v2
from albert_tf.tasks.encoder_task import EncoderFineTuningTask
from albert_tf.tasks.export_run import export_run
from albert_tf.tasks.question_answering.settings import QASettings
from albert_tf.tasks.registry import QUESTION_ANSWERING

EVALUATIONS = {"squad": evaluate_v1, "cmrc2018": evaluate_cmrc}
NO_SPAN_NULL_ODDS = 1e6  # no valid span at all: certainly unanswered


def training_steps(num_examples: int, train_batch_size: int, num_train_epochs: float,
                   warmup_proportion: float):
    """(num_train_steps, num_warmup_steps) as the original computes them: from the number
    of questions (not windows).

    >>> training_steps(87599, 32, 3.0, 0.1)
    (8212, 821)
    """
    steps = int(num_examples / train_batch_size * num_train_epochs)
    return steps, int(steps * warmup_proportion)


class QuestionAnsweringTask(EncoderFineTuningTask):
    """Span extraction: the model, the cached windows, predictions and their scores."""

    kind = QUESTION_ANSWERING

    def __init__(self, settings: QASettings, tokenizer: Optional[Tokenizer] = None):
        super().__init__(settings, tokenizer)
        self.version_2 = settings.version_2_with_negative
        self.answerability = settings.answerability
        self.logged = ("loss", "span_accuracy") + (
            ("answerability_loss",) if self.answerability else ())
        self._examples: Dict[str, list] = {}
        self._features: Dict[str, tuple] = {}

    @property
    def flops_per_sequence(self) -> float:
        return model_flops_per_sequence(self.settings.albert_config,
                                        self.settings.max_seq_length)

    def build_model(self):
        if self.answerability:
            return AlbertAnswerabilityQA(self.settings.albert_config, self.settings.start_n_top,
                                         self.settings.end_n_top, self.settings.dropout_prob)
        return AlbertQuestionAnswering(self.settings.albert_config)

    # -- data ------------------------------------------------------------------------------

    def examples(self, split: str):
        if split not in self._examples:
            path = self.settings.train_file if split == "train" else self.settings.predict_file
            examples, stats = read_squad(path, is_training=split == "train",
                                         version_2_with_negative=self.version_2)
            if not examples:
                raise AlbertTfError(f"{path}: no usable question ({stats})")
            self._examples[split] = examples
        return self._examples[split]

    def features(self, split: str):
        """(record path, windows, statistics) of a split, encoded once per run."""
        if split not in self._features:
            settings = self.settings
            train = split == "train"
            record = (settings.train_feature_file if train else settings.predict_feature_file
                      ) or os.path.join(self.cache_dir, f"{split}.tfrecord")
            left = (None if train else settings.predict_feature_left_file) or (
                os.path.splitext(record)[0] + ".left.jsonl")
            for path in (record, left):
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            windows, stats = cached_features(
                self.examples(split), settings.train_file if train else settings.predict_file,
                self.tokenizer, record, left, settings.max_seq_length, settings.doc_stride,
                settings.max_query_length, is_training=train)
            self._features[split] = (record, windows, stats)
        return self._features[split]

    def _dataset(self, path: str, batch_size: int, is_training: bool, context=None):
        return qa_dataset(path, self.settings.max_seq_length, batch_size, is_training,
                          context, seed=self.settings.seed, answerability=self.answerability)

    def train_dataset(self, context):
        return self._dataset(self.features("train")[0], self.settings.train_batch_size, True,
                             context)

    def replica_losses(self, model, features, training, global_batch, update_totals=None):
        share = tf.cast(tf.shape(features["input_ids"])[0], tf.float32) / float(global_batch)
        if self.answerability:
            outputs = model.training_outputs(features, training=training)
            losses = answerability_span_losses(
                outputs["start_logits"], outputs["end_logits"], outputs["cls_logits"],
                features["start_positions"], features["end_positions"],
                features["is_impossible"])
        else:
            outputs = model(features, training=training)
            losses = span_losses(outputs["start_logits"], outputs["end_logits"],
                                 features["start_positions"], features["end_positions"])
        return {name: value * share for name, value in losses.items()}

    # -- the run around training -----------------------------------------------------------

    def validate(self, strategy) -> None:
        super().validate(strategy)
        settings = self.settings
        for split, needed in (("train", settings.do_train), ("predict", settings.do_predict)):
            if needed:
                self.examples(split)
        layout = RunLayout(settings.output_dir)
        if (settings.do_predict and not settings.do_train and not settings.init_checkpoint
                and not tf.train.latest_checkpoint(layout.checkpoint_dir)):
            raise TrainingError(f"--do_predict: {settings.output_dir} holds no fine-tuned "
                                "checkpoint, so the answers would come from an untrained "
                                "head; add --do_train, or --init_checkpoint of a fine-tuned "
                                "(e.g. converted) question-answering model")
        if settings.export_dir:
            check_writable(settings.export_dir, "export_dir")

    def model_identity(self) -> Dict[str, object]:
        """SQuAD v1.1 or v2.0 (and its head) and the tokenizer."""
        settings = self.settings
        return {"task": QUESTION_ANSWERING,
                "version_2_with_negative": settings.version_2_with_negative,
                "v2_head": settings.v2_head if settings.version_2_with_negative else None,
                **self.tokenizer_identity()}

    def data_identity(self) -> Dict[str, object]:
        """The training file's content and the windowing."""
        settings = self.settings
        data = {name: getattr(settings, name) for name in (
            "max_seq_length", "doc_stride", "max_query_length", "train_batch_size")}
        if settings.do_train:
            data["train_file_sha256"] = content_fingerprint([settings.train_file])
        return data

    def after_restore(self, loop) -> None:
        report = loop.warm_start_report
        if self.settings.do_predict and not self.settings.do_train and report is not None:
            head = {variable.path for variable in loop.model.head.weights}
            untrained = sorted(head & set(report.fresh))
            if untrained:
                raise TrainingError(
                    f"--init_checkpoint {self.settings.init_checkpoint} holds no fine-tuned "
                    f"question-answering head ({', '.join(untrained[:3])} would start "
                    "untrained); add --do_train, or convert a fine-tuned SQuAD checkpoint")
        if self.settings.do_train:
            _, windows, _ = self.features("train")
            logging.info("training on %d questions (%d windows), %d steps of %d", len(
                self.examples("train")), len(windows), self.settings.num_train_steps,
                self.settings.train_batch_size)

    def conclude(self, loop) -> Dict[str, object]:
        settings = self.settings
        results = self.predict(loop) if settings.do_predict else {}
        if settings.export_dir and loop.is_chief:
            results["export"] = export_run(
                settings.output_dir, settings.export_dir,
                settings.export_model_name or ("cmrc2018" if settings.evaluation == "cmrc2018"
                                               else "squad"))
        return results

    # -- predictions -----------------------------------------------------------------------

    def window_outputs(self, model, record_path: str) -> Dict[str, np.ndarray]:
        """The model's outputs for every window, in file order."""
        predict = tf.function(lambda features: model(features, training=False))
        batches = [predict(batch) for batch in self._dataset(
            record_path, self.settings.predict_batch_size, False)]
        return {name: np.concatenate([batch[name].numpy() for batch in batches])
                for name in batches[0]}

    def predict(self, loop) -> Dict[str, object]:
        settings = self.settings
        logging.info("prediction: reading and windowing %s", settings.predict_file)
        examples = self.examples("predict")
        record, windows, stats = self.features("predict")
        logging.info("prediction: %d questions in %d windows, weights of step %d",
                     len(examples), len(windows), loop.step)
        outputs = self.window_outputs(loop.model, record)
        logging.info("prediction: choosing each question's answer span")
        predictions: Dict[str, str] = {}
        nbest: Dict[str, list] = {}
        null_odds: Dict[str, float] = {}
        no_span = []  # questions without any valid span
        for example_index, indices in sorted(group_by_example(windows).items()):
            example = examples[example_index]
            group = [windows[i] for i in indices]
            if self.answerability:
                candidates, null_odds[example.qas_id] = best_spans_with_null(
                    example, group, [{name: value[i] for name, value in outputs.items()}
                                     for i in indices],
                    settings.n_best_size, settings.max_answer_length)
            else:
                starts = [outputs["start_logits"][i] for i in indices]
                ends = [outputs["end_logits"][i] for i in indices]
                candidates = best_spans(example, group, starts, ends,
                                        settings.n_best_size, settings.max_answer_length)
                if self.version_2:  # BERT's null score: [CLS] as both ends
                    null_score = min(float(s[0]) + float(e[0]) for s, e in zip(starts, ends))
                    null_odds[example.qas_id] = (null_score - candidates[0].score if candidates
                                                 else NO_SPAN_NULL_ODDS)
            predictions[example.qas_id] = candidates[0].text if candidates else ""
            if not candidates:
                no_span.append(example.qas_id)
            nbest[example.qas_id] = [
                {"text": c.text, "probability": c.probability, "score": c.score,
                 "start": c.start, "end": c.end} for c in candidates]
        golds = {e.qas_id: e.answers for e in examples}
        scores = None
        if any(golds.values()) and self.version_2:
            # As the original: the threshold that scores best on this file's answers
            # decides which questions are answered "" (null odds at or above it).
            threshold = evaluate_v2(golds, predictions, null_odds)["best_f1_thresh"]
            predictions = {qas_id: "" if null_odds[qas_id] >= threshold else text
                           for qas_id, text in predictions.items()}
            scores = evaluate_v2(golds, predictions, null_odds)
            scores["null_score_diff_threshold"] = threshold
        elif any(golds.values()):
            scores = EVALUATIONS[settings.evaluation](golds, predictions)
        results: Dict[str, object] = {"predictions": os.path.join(settings.output_dir,
                                                                  "predictions.json")}
        if loop.is_chief:
            write_json(results["predictions"], predictions)
            write_json(os.path.join(settings.output_dir, "nbest_predictions.json"), nbest)
            if self.version_2:
                write_json(os.path.join(settings.output_dir, "null_odds.json"), null_odds)
        if scores is not None:
            scores.update(step=loop.step, windows=len(windows), **stats)
            results["eval"] = scores
            if loop.is_chief:
                write_json(os.path.join(settings.output_dir, "eval_results.json"), scores)
                write_eval_summaries(loop.layout.eval_logs("dev"), loop.step, scores)
            logging.info("evaluation of %s at step %d: %s", settings.predict_file, loop.step,
                         scores)
        if no_span:
            logging.warning("%d question(s) got no valid span (empty answer), e.g. %s",
                            len(no_span), no_span[:3])
        without_span = set(no_span)
        judged = sum(1 for qas_id, text in predictions.items()
                     if not text and qas_id not in without_span)
        if self.version_2:
            logging.info("%d of %d question(s) judged unanswerable (answer \"\": the null "
                         "answer scored above every span%s)", judged, len(predictions),
                         f", null odds at or above the threshold {threshold:.4f}"
                         if scores is not None else "")
        return results


def run(settings: QASettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains and predicts as the settings ask; returns what each produced."""
    return run_task(QuestionAnsweringTask(settings), settings, strategy)
