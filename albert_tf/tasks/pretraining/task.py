"""Pretraining: masked LM + sentence-order prediction (see `training/loop.py`).

Each replica contributes `mlm_loss_sum / global_mlm_weight + sop_loss * local/global
batch`: the masked-LM loss is normalized by the all-reduced *global* number of masked
tokens, so a replicated step equals the one-device step on the global batch.
"""

import functools
from typing import Dict, List, Optional

import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.warm_start import Candidate
from albert_tf.data.files import content_fingerprint
from albert_tf.data.pretraining_dataset import (check_input_files, count_records,
                                                find_damaged_file, pretraining_dataset)
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits, load_tokenizer
from albert_tf.models.flops import model_flops_per_sequence
from albert_tf.models.losses import pretraining_losses
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.training.driver import run_task
from albert_tf.training.loop import TrainingError, TrainingLoop
from albert_tf.training.outputs import write_eval_summaries, write_json
from albert_tf.training.task import Task
from albert_tf.tasks.pretraining.settings import PretrainingSettings
from albert_tf.tasks.registry import PRETRAINING

__all__ = ["PretrainingSettings", "PretrainingTask", "TrainingError", "run"]


class PretrainingTask(Task):
    """The pretraining model and data; evaluation over the eval files; the encoder's
    weights saved alone when training ends.

    Example (one step on the records `create_pretraining_data.py` wrote):

        settings = PretrainingSettings(input_files=files, output_dir="runs/x",
                                       albert_config=config, ...)
        run_task(PretrainingTask(settings), settings, strategy)
    """

    kind = PRETRAINING
    logged = ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy")

    @property
    def flops_per_sequence(self) -> float:
        settings = self.settings
        return model_flops_per_sequence(settings.albert_config, settings.max_seq_length,
                                        settings.max_predictions_per_seq)

    def validate(self, strategy) -> None:
        check_pretraining_data(self.settings)
        if self.run_tokenizer is not None:
            check_tokenizer_fits(self.run_tokenizer, self.settings.albert_config.vocab_size)

    @functools.cached_property
    def run_tokenizer(self) -> Optional[Tokenizer]:
        """The tokenizer the records were made with (their manifests name it), which the
        run folder keeps a copy of; None when no manifest names one that still exists."""
        settings = self.settings
        if not (settings.spm_model_file or settings.vocab_file):
            return None
        return load_tokenizer(settings.spm_model_file, settings.vocab_file,
                              settings.do_lower_case)

    def model_identity(self) -> Dict[str, object]:
        """The records' tokenizer (when their manifests name one)."""
        tokenizer = self.run_tokenizer
        return ({"tokenizer_sha256": tokenizer.model_sha256,
                 "do_lower_case": tokenizer.lower_case} if tokenizer is not None else {})

    def data_identity(self) -> Dict[str, object]:
        """The records' content, their lengths and the batch."""
        settings = self.settings
        data = {name: getattr(settings, name) for name in (
            "max_seq_length", "max_predictions_per_seq", "train_batch_size")}
        if settings.do_train:
            data["input_files_sha256"] = content_fingerprint(list(settings.input_files))
        return data

    def build_model(self) -> AlbertPretrainer:
        return AlbertPretrainer(self.settings.albert_config)

    def warm_start_roots(self, model) -> List[Candidate]:
        return [(("model",), model), (("encoder",), model.encoder)]

    def find_damaged_data(self):
        return find_damaged_file(list(self.settings.input_files)
                                 + list(self.settings.eval_files))

    def _dataset(self, files, batch_size: int, is_training: bool, context):
        settings = self.settings
        # Evaluation keeps the last partial batch: its means are over every masked
        # position and every pair of the eval set, not over batches.
        return pretraining_dataset(
            files, settings.max_seq_length, settings.max_predictions_per_seq, batch_size,
            is_training=is_training, input_context=context, seed=settings.seed,
            drop_remainder=is_training)

    def train_dataset(self, context):
        return self._dataset(self.settings.input_files, self.settings.train_batch_size, True,
                             context)

    def replica_losses(self, model, features, training, global_batch, update_totals=None):
        outputs = model(features, training=training)
        losses = pretraining_losses(outputs["mlm_logits"], outputs["sop_logits"],
                                    features["masked_lm_ids"], features["masked_lm_weights"],
                                    features["next_sentence_labels"])
        local_batch = tf.cast(tf.shape(features["input_ids"])[0], tf.float32)
        # The MLM loss is a mean over the masked positions of the whole update.
        global_weight = (update_totals or {}).get("mlm_weight_sum")
        if global_weight is None:
            global_weight = tf.distribute.get_replica_context().all_reduce(
                "sum", losses["mlm_weight_sum"])
        global_weight = tf.maximum(global_weight, 1e-5)
        share = local_batch / float(global_batch)
        contributions = {
            "mlm_loss": losses["mlm_loss_sum"] / global_weight,
            "sop_loss": losses["sop_loss"] * share,
            "mlm_accuracy": losses["mlm_correct_sum"] / global_weight,
            "sop_accuracy": losses["sop_accuracy"] * share,
        }
        contributions["loss"] = contributions["mlm_loss"] + contributions["sop_loss"]
        return contributions

    def update_totals(self, micro_batches):
        weights = tf.reduce_sum(tf.cast(micro_batches["masked_lm_weights"], tf.float32))
        return {"mlm_weight_sum": tf.distribute.get_replica_context().all_reduce("sum", weights)}

    def after_training(self, loop: TrainingLoop, values: Dict[str, float]) -> None:
        encoder_saved = tf.io.gfile.exists(loop.layout.encoder_prefix + ".index")
        # A rerun of a finished run writes the encoder a kill after the last checkpoint
        # kept it from writing.
        if loop.is_chief and (values or not encoder_saved):
            self.save_encoder(loop)

    def save_encoder(self, loop: TrainingLoop) -> str:
        """Writes the encoder's weights alone (no optimizer slots) for fine-tuning."""
        logging.info("writing the encoder's weights alone for fine-tuning (%s)",
                     loop.layout.encoder_prefix)
        path = tf.train.Checkpoint(encoder=loop.model.encoder).write(loop.layout.encoder_prefix)
        logging.info("encoder weights for fine-tuning: %s", path)
        return path

    def conclude(self, loop: TrainingLoop) -> Dict[str, object]:
        return {"eval": self.evaluate(loop)} if self.settings.do_eval else {}

    def evaluate(self, loop: TrainingLoop) -> Dict[str, float]:
        """MLM/SOP loss and accuracy over the eval files (every record, or the first
        max_eval_steps batches): the MLM values are means over every masked position, the
        SOP values over every pair, as the original's metrics are (it drops the last
        partial batch; here it counts). Written to output_dir/eval_results_<eval set>.json
        (the run's settings are left as they are) and to TensorBoard under
        output_dir/eval_<eval set>/."""
        settings = self.settings
        dataset = loop.distribute(lambda context: self._dataset(
            settings.eval_files, settings.eval_batch_size, False, context))
        sums_step = tf.function(lambda features: {
            name: loop.strategy.reduce("sum", value, axis=None)
            for name, value in loop.strategy.run(
                lambda f: _eval_sums(loop.model, f), args=(features,)).items()})
        logging.info("evaluating on %s (at most %d batches of %d)",
                     settings.eval_results_name, settings.max_eval_steps,
                     settings.eval_batch_size)
        totals, batches = {}, 0
        try:
            for features in dataset:
                if batches >= settings.max_eval_steps:
                    break
                for name, value in sums_step(features).items():
                    totals[name] = totals.get(name, 0.0) + float(value)
                batches += 1
        except tf.errors.DataLossError as error:
            damaged = find_damaged_file(settings.eval_files) or error.message.splitlines()[0]
            raise TrainingError(f"the eval data is damaged: {damaged}") from None
        if not totals.get("examples"):
            raise TrainingError(f"--eval_file holds no record: {list(settings.eval_files)}")
        positions = max(totals["mlm_weight_sum"], 1e-5)
        results = {"mlm_loss": totals["mlm_loss_sum"] / positions,
                   "sop_loss": totals["sop_loss_sum"] / totals["examples"],
                   "mlm_accuracy": totals["mlm_correct_sum"] / positions,
                   "sop_accuracy": totals["sop_correct_sum"] / totals["examples"]}
        results = {"loss": results["mlm_loss"] + results["sop_loss"], **results,
                   "step": loop.step, "eval_batches": batches,
                   "eval_examples": int(totals["examples"]),
                   "eval_masked_positions": int(totals["mlm_weight_sum"])}
        name = settings.eval_results_name
        if loop.is_chief:
            path = loop.layout.eval_set_results_file(name)
            write_json(path, results)
            write_eval_summaries(loop.layout.eval_logs(name), loop.step,
                                 {tag: results[tag] for tag in self.logged})
            logging.info("eval results: %s", path)
        logging.info("eval on %s at step %d over %d records (%d batches): %s", name,
                     loop.step, results["eval_examples"], batches, results)
        return results


def _eval_sums(model, features) -> Dict[str, tf.Tensor]:
    """One replica's sums over its share of an eval batch (possibly empty)."""
    outputs = model(features, training=False)
    losses = pretraining_losses(outputs["mlm_logits"], outputs["sop_logits"],
                                features["masked_lm_ids"], features["masked_lm_weights"],
                                features["next_sentence_labels"])
    examples = tf.cast(tf.shape(features["input_ids"])[0], tf.float32)

    def total(mean):  # a mean over no example is NaN; its sum is 0
        return tf.where(examples > 0, tf.cast(mean, tf.float32) * examples, 0.0)

    return {"mlm_loss_sum": losses["mlm_loss_sum"], "mlm_weight_sum": losses["mlm_weight_sum"],
            "mlm_correct_sum": losses["mlm_correct_sum"],
            "sop_loss_sum": total(losses["sop_loss"]),
            "sop_correct_sum": total(losses["sop_accuracy"]), "examples": examples}


def check_pretraining_data(settings: PretrainingSettings) -> None:
    """The records (complete shard sets, features and lengths, ids within the vocabulary)
    and the batch sizes against their counts, checked before the run writes anything."""
    config = settings.albert_config
    for flag, files in (("input_file", settings.input_files if settings.do_train else ()),
                        ("eval_file", settings.eval_files if settings.do_eval else ())):
        if files:
            check_input_files(files, settings.max_seq_length,
                              settings.max_predictions_per_seq, False, flag, config.vocab_size)
    records = count_records(settings.input_files) if settings.do_train else None
    if records is not None and settings.train_batch_size > records:
        # Training batches are full ones (an eval batch may be larger than the set: its
        # one partial batch is scored whole).
        raise TrainingError(f"--train_batch_size={settings.train_batch_size} is larger "
                            f"than the {records} records of --input_file (their manifest "
                            "says)")


def run(settings: PretrainingSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains and/or evaluates as the settings ask; returns the final values."""
    return run_task(PretrainingTask(settings), settings, strategy)
