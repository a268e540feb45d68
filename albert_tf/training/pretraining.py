"""The pretraining loop: masked LM + SOP under any tf.distribute strategy, resumable.

A custom loop (`strategy.run` inside a `tf.function`, `iterations_per_loop` steps per call)
rather than `model.fit`, because `fit` fails under MultiWorkerMirroredStrategy on this
stack (see DEVELOPERS.md) and the loss must be normalized by the *global* number of masked
tokens, which needs an all-reduce inside the step.

Each replica contributes `mlm_loss_sum / global_mlm_weight + sop_loss * local/global
batch`; the optimizer sums gradients over replicas, so the update equals the one-device
update on the global batch.

Resuming: the step is the optimizer's iteration count, restored from the latest checkpoint
together with weights and optimizer slots; the training data skips the batches already
consumed, so with a fixed seed a resumed run sees exactly the batches an uninterrupted one
would.
"""

import dataclasses
import json
import math
import os
import shutil
import time
from typing import Dict, Optional, Sequence

import keras
import tensorflow as tf
from absl import logging

from albert_tf.config import AlbertConfig
from albert_tf.data.pretraining_dataset import pretraining_dataset
from albert_tf.io_utils import write_atomically
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.models.pretraining_loss import pretraining_losses
from albert_tf.training.optimization import clipped_replica_gradients, create_optimizer
from albert_tf.training.warm_start import warm_start

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
CLIP_NORM = 1.0
LOGGED = ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy")


class TrainingError(RuntimeError):
    """A run that cannot continue (bad settings, non-finite loss); the message says why."""


@dataclasses.dataclass(frozen=True)
class PretrainingSettings:
    """The run_pretraining flags as plain values."""

    input_files: Sequence[str]
    output_dir: str
    albert_config: AlbertConfig
    eval_files: Sequence[str] = ()
    init_checkpoint: Optional[str] = None
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    train_batch_size: int = 4096
    eval_batch_size: int = 64
    learning_rate: float = 0.00176
    optimizer: str = "lamb"
    poly_power: float = 1.0
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    start_warmup_step: int = 0
    save_checkpoints_steps: int = 5000
    keep_checkpoint_max: int = 5
    iterations_per_loop: int = 1000
    do_train: bool = True
    do_eval: bool = False
    max_eval_steps: int = 100
    precision: str = "float32"
    jit_compile: bool = False
    seed: int = 12345
    log_steps: int = 100
    peak_flops: Optional[float] = None


def _check(settings: PretrainingSettings, strategy: tf.distribute.Strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    for flag, batch in (("train_batch_size", settings.train_batch_size),
                        ("eval_batch_size", settings.eval_batch_size)):
        if batch < 1 or batch % replicas:
            raise TrainingError(f"--{flag}={batch} must be a positive multiple of the "
                                f"{replicas} replica(s)")
    if settings.precision not in PRECISIONS:
        raise TrainingError(f"--precision must be one of {PRECISIONS}, got "
                            f"{settings.precision!r}")
    for flag in ("num_train_steps", "save_checkpoints_steps", "iterations_per_loop",
                 "log_steps", "keep_checkpoint_max"):
        if getattr(settings, flag) < 1:
            raise TrainingError(f"--{flag} must be at least 1, got {getattr(settings, flag)}")
    if settings.do_eval and not settings.eval_files:
        raise TrainingError("--do_eval needs --eval_file")
    if settings.peak_flops is not None and settings.peak_flops <= 0:
        raise TrainingError(f"--peak_flops must be positive, got {settings.peak_flops}")


def model_flops_per_sequence(config: AlbertConfig, seq_length: int, predictions: int) -> float:
    """Training FLOPs of one sequence (forward + backward = 3x forward; a multiply-add
    counts 2), for model-FLOPs utilization."""
    hidden, inter = config.hidden_size, config.intermediate_size
    per_layer = (2 * seq_length * (4 * hidden * hidden + 2 * hidden * inter)
                 + 2 * 2 * seq_length * seq_length * hidden)
    embedding = 2 * seq_length * config.embedding_size * hidden
    head = 2 * predictions * (hidden * config.embedding_size
                              + config.embedding_size * config.vocab_size)
    return 3.0 * (config.num_hidden_layers * per_layer + embedding + head)


class PretrainingRun:
    """Builds model, optimizer, data and checkpointing for `settings` in `strategy`."""

    def __init__(self, settings: PretrainingSettings, strategy: tf.distribute.Strategy):
        _check(settings, strategy)
        self.settings, self.strategy = settings, strategy
        # Under MultiWorkerMirrored only the chief keeps checkpoints and summaries; the other
        # workers must still take part in saving, so they write to a scratch folder.
        self.is_chief = strategy.extended.should_checkpoint
        keras.mixed_precision.set_global_policy(settings.precision)
        with strategy.scope():
            self.model = AlbertPretrainer(settings.albert_config)
            optimizer = create_optimizer(
                settings.optimizer, settings.learning_rate, settings.num_train_steps,
                settings.num_warmup_steps, settings.start_warmup_step, settings.poly_power,
                variables=self.model.trainable_variables)
            if settings.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self.checkpoint_dir = os.path.join(settings.output_dir, "checkpoints")
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.checkpoint_dir if self.is_chief else self._scratch_dir(),
            max_to_keep=settings.keep_checkpoint_max)
        self._train_loop = None

    def _scratch_dir(self) -> str:
        resolver = self.strategy.cluster_resolver
        return os.path.join(self.settings.output_dir, "scratch",
                            f"{resolver.task_type}_{resolver.task_id}")

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> int:
        """Restores the latest checkpoint (every worker reads the chief's), else
        warm-starts model weights from init_checkpoint; returns the step reached."""
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        if latest:
            try:
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            except (AssertionError, ValueError) as error:
                raise TrainingError(
                    f"cannot resume from {latest}: it was written by a different model or "
                    f"optimizer ({str(error).splitlines()[0][:300]}); rerun with the settings "
                    "that wrote it, or use a new --output_dir") from None
            logging.info("resumed from %s at step %d", latest, self.step)
        elif self.settings.init_checkpoint:
            warm_start(self.settings.init_checkpoint, self.model,
                       [(("model",), self.model), (("encoder",), self.model.encoder)])
        return self.step

    def _save(self, step: int) -> None:
        path = self.manager.save(checkpoint_number=step)
        if self.is_chief:
            logging.info("saved %s", path)
        else:
            shutil.rmtree(self.manager.directory, ignore_errors=True)

    def _dataset(self, files, batch_size, is_training, skip_batches=0):
        settings = self.settings

        def dataset_fn(context):
            dataset = pretraining_dataset(
                files, settings.max_seq_length, settings.max_predictions_per_seq, batch_size,
                is_training=is_training, input_context=context, seed=settings.seed)
            return dataset.skip(skip_batches) if skip_batches else dataset

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _replica_step(self, features, training: bool):
        global_batch = (self.settings.train_batch_size if training
                        else self.settings.eval_batch_size)
        context = tf.distribute.get_replica_context()
        outputs = self.model(features, training=training)
        losses = pretraining_losses(outputs["mlm_logits"], outputs["sop_logits"],
                                    features["masked_lm_ids"], features["masked_lm_weights"],
                                    features["next_sentence_labels"])
        local_batch = tf.cast(tf.shape(features["input_ids"])[0], tf.float32)
        global_weight = context.all_reduce("sum", losses["mlm_weight_sum"])
        share = local_batch / float(global_batch)
        contributions = {
            "mlm_loss": losses["mlm_loss_sum"] / tf.maximum(global_weight, 1e-5),
            "sop_loss": losses["sop_loss"] * share,
            "mlm_accuracy": losses["mlm_correct_sum"] / tf.maximum(global_weight, 1e-5),
            "sop_accuracy": losses["sop_accuracy"] * share,
        }
        contributions["loss"] = contributions["mlm_loss"] + contributions["sop_loss"]
        return contributions

    def _train_step(self, features):
        variables = self.model.trainable_variables
        loss_scale = (self.optimizer.dynamic_scale
                      if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer) else 1.0)
        with tf.GradientTape() as tape:
            values = self._replica_step(features, training=True)
            loss = values["loss"] * tf.cast(loss_scale, values["loss"].dtype)
        gradients = clipped_replica_gradients(tape.gradient(loss, variables), CLIP_NORM,
                                              loss_scale)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return values

    def _make_train_loop(self):
        step_fn = (tf.function(self._train_step, jit_compile=True)
                   if self.settings.jit_compile else self._train_step)

        def loop(iterator, steps):
            values = {name: tf.constant(0.0) for name in LOGGED}
            for _ in tf.range(steps):
                per_replica = self.strategy.run(step_fn, args=(next(iterator),))
                values = {name: self.strategy.reduce("sum", per_replica[name], axis=None)
                          for name in LOGGED}
            return values

        return tf.function(loop)

    def train(self) -> Dict[str, float]:
        """Trains from the current step (call `restore` first) to num_train_steps; returns
        the last values."""
        settings = self.settings
        start_step = self.step
        if start_step >= settings.num_train_steps:
            logging.info("already at step %d of %d: nothing to train", start_step,
                         settings.num_train_steps)
            return {}
        iterator = iter(self._dataset(settings.input_files, settings.train_batch_size, True,
                                      skip_batches=start_step))
        loop = self._make_train_loop()
        writer = (tf.summary.create_file_writer(os.path.join(settings.output_dir, "train"))
                  if self.is_chief else tf.summary.create_noop_writer())
        flops = model_flops_per_sequence(settings.albert_config, settings.max_seq_length,
                                         settings.max_predictions_per_seq)
        step, values = start_step, {}
        last_time, last_step = time.monotonic(), start_step
        while step < settings.num_train_steps:
            steps = min(settings.iterations_per_loop, settings.num_train_steps - step,
                        settings.save_checkpoints_steps - step % settings.save_checkpoints_steps,
                        settings.log_steps - step % settings.log_steps)
            outputs = loop(iterator, tf.constant(steps))
            values = {name: float(value) for name, value in outputs.items()}
            if not all(math.isfinite(v) for v in values.values()):
                raise TrainingError(
                    f"non-finite loss at step {step + steps} ({values}); stopping. The last "
                    f"good checkpoint is {tf.train.latest_checkpoint(self.checkpoint_dir)}")
            step = self.step
            if step % settings.log_steps == 0 or step == settings.num_train_steps:
                now = time.monotonic()
                sequences_per_second = ((step - last_step) * settings.train_batch_size
                                        / max(now - last_time, 1e-9))
                last_time, last_step = now, step
                self._log(writer, step, values, sequences_per_second, flops)
            if step % settings.save_checkpoints_steps == 0 or step == settings.num_train_steps:
                self._save(step)
        if self.is_chief:
            self.save_encoder()
        return values

    def _log(self, writer, step, values, sequences_per_second, flops) -> None:
        settings = self.settings
        learning_rate = float(self.optimizer.learning_rate)
        tokens_per_second = sequences_per_second * settings.max_seq_length
        utilization = (sequences_per_second * flops
                       / (settings.peak_flops * self.strategy.num_replicas_in_sync)
                       if settings.peak_flops else None)
        with writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("sequences_per_second", sequences_per_second)
            tf.summary.scalar("tokens_per_second", tokens_per_second)
            if utilization is not None:
                tf.summary.scalar("model_flops_utilization", utilization)
        writer.flush()
        logging.info("step %d/%d | loss %.4f (mlm %.4f, sop %.4f) | mlm acc %.3f, sop acc %.3f "
                     "| lr %.3g | %.1f seq/s, %.0f tokens/s%s", step, settings.num_train_steps,
                     values["loss"], values["mlm_loss"], values["sop_loss"],
                     values["mlm_accuracy"], values["sop_accuracy"], learning_rate,
                     sequences_per_second, tokens_per_second,
                     "" if utilization is None else f", MFU {utilization:.1%}")

    def save_encoder(self) -> str:
        """Writes the encoder's weights alone (no optimizer slots) for fine-tuning."""
        prefix = os.path.join(self.settings.output_dir, "encoder", "encoder")
        path = tf.train.Checkpoint(encoder=self.model.encoder).write(prefix)
        logging.info("encoder weights for fine-tuning: %s", path)
        return path

    def evaluate(self) -> Dict[str, float]:
        """MLM/SOP loss and accuracy over the eval files (at most max_eval_steps batches),
        written to output_dir/eval_results.json."""
        settings = self.settings
        dataset = self._dataset(settings.eval_files, settings.eval_batch_size, False)

        @tf.function
        def eval_step(features):
            per_replica = self.strategy.run(
                lambda f: self._replica_step(f, training=False), args=(features,))
            return {name: self.strategy.reduce("sum", per_replica[name], axis=None)
                    for name in LOGGED}

        totals: Dict[str, float] = {name: 0.0 for name in LOGGED}
        batches = 0
        for features in dataset:
            if batches >= settings.max_eval_steps:
                break
            for name, value in eval_step(features).items():
                totals[name] += float(value)
            batches += 1
        if not batches:
            raise TrainingError("the eval files hold no full batch")
        results = {name: total / batches for name, total in totals.items()}
        results.update(step=self.step, eval_batches=batches)
        if self.is_chief:
            write_atomically(os.path.join(settings.output_dir, "eval_results.json"),
                             (json.dumps(results, indent=2) + "\n").encode())
        logging.info("eval at step %d over %d batches: %s", self.step, batches, results)
        return results


def run(settings: PretrainingSettings, strategy: tf.distribute.Strategy) -> Dict[str, object]:
    """Trains and/or evaluates as the settings ask; returns the final values."""
    if not (settings.do_train or settings.do_eval):
        raise TrainingError("at least one of --do_train and --do_eval must be set")
    os.makedirs(settings.output_dir, exist_ok=True)
    config_file = os.path.join(settings.output_dir, "albert_config.json")
    if (tf.train.latest_checkpoint(os.path.join(settings.output_dir, "checkpoints"))
            and os.path.exists(config_file)):
        previous = AlbertConfig.from_json_file(config_file)
        changed = [f"{name}: {value} -> {getattr(settings.albert_config, name)}"
                   for name, value in previous.to_dict().items()
                   if getattr(settings.albert_config, name) != value]
        if changed:
            raise TrainingError(
                f"--output_dir {settings.output_dir} holds checkpoints of a different model "
                f"({config_file}: {', '.join(changed)}); use a new --output_dir to start "
                "afresh, or the same config to resume")
    if strategy.extended.should_checkpoint:
        settings.albert_config.to_json_file(config_file)
    runner = PretrainingRun(settings, strategy)
    runner.restore()
    results: Dict[str, object] = {}
    if settings.do_train:
        results["train"] = runner.train()
    if settings.do_eval:
        results["eval"] = runner.evaluate()
    return results

