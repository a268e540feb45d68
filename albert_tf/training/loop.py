"""The training loop shared by pretraining and fine-tuning, under any tf.distribute strategy.

A custom loop (`strategy.run` inside a `tf.function`, `iterations_per_loop` steps per call)
rather than `model.fit`, because `fit` fails under MultiWorkerMirroredStrategy on this
stack and losses such as the masked LM's must be normalized by a *global* count, which
needs an all-reduce inside the step.

What to train is a `Task` (task.py): it supplies the model, the per-replica losses and the
training data. Each replica returns its *contribution* to every logged value (its share of
the global-batch value), so summing over replicas gives the one-device number and the
optimizer's sum of gradients gives the one-device update.

Resuming: the step is the optimizer's iteration count, restored from the latest checkpoint
together with weights and optimizer slots; the training data skips the batches already
consumed, so with a fixed seed a resumed run sees exactly the batches an uninterrupted one
would (and ends with the same weights when dropout is off: Keras does not checkpoint the
state of its dropout seed generators, so after a resume the dropout masks differ). Under MultiWorkerMirrored only the chief keeps checkpoints and summaries.
"""

import contextlib
import math
import os
import shutil
from typing import Callable, Dict, Optional

import keras
import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.errors import AlbertTfError, Stopped
from albert_tf.io_utils import check_writable
from albert_tf.training.distribution import auto_jit_compile, auto_precision, device_type
from albert_tf.training.optimization import clipped_replica_gradients, create_optimizer
from albert_tf.training.progress import Lap, Progress, format_duration
from albert_tf.training.settings import LoopSettings
from albert_tf.training.stop_signals import StopSignals
from albert_tf.training.task import Task

CLIP_NORM = 1.0


class TrainingError(AlbertTfError, RuntimeError):
    """A run that cannot continue (bad settings, non-finite loss); the message says why."""


def check_loop_settings(settings: LoopSettings, strategy: tf.distribute.Strategy) -> None:
    """The settings' own rules (`validate()`), then how they split across replicas."""
    try:
        settings.validate()
    except AlbertTfError as error:
        raise TrainingError(str(error)) from None
    replicas = strategy.num_replicas_in_sync
    for flag, batch in (("train_batch_size", settings.train_batch_size),
                        ("eval_batch_size", settings.eval_batch_size)):
        if batch % replicas:
            raise TrainingError(f"--{flag}={batch} must be a positive multiple of the "
                                f"{replicas} replica(s)")
    accumulation = settings.gradient_accumulation_steps
    if settings.train_batch_size % (replicas * accumulation):
        raise TrainingError(
            f"--train_batch_size={settings.train_batch_size} must split into "
            f"--gradient_accumulation_steps={accumulation} micro-batches on each of the "
            f"{replicas} replica(s): a multiple of {replicas * accumulation}")


def check_output_dir_config(output_dir: str, config: AlbertConfig) -> None:
    """Before anything is written: the folder can be written, and holds no checkpoints of
    another model (resuming them would fail or, worse, train a different model)."""
    check_writable(output_dir, "output_dir")
    layout = RunLayout(output_dir)
    config_file = layout.config_file
    if tf.train.latest_checkpoint(layout.checkpoint_dir) and os.path.exists(config_file):
        changed = [f"{name}: {before} -> {now}" for name, (before, now) in
                   AlbertConfig.from_json_file(config_file).differences(config).items()]
        if changed:
            raise TrainingError(
                f"--output_dir {output_dir} holds checkpoints of a different model "
                f"({config_file}: {', '.join(changed)}); use a new --output_dir to start "
                "afresh, or the same config to resume")


class TrainingLoop:
    """Runs `task` with `settings` under `strategy`: the model the task builds, the
    optimizer, checkpoints, summaries and the distributed step loop.

    Args:
        task: What to train (a `Task`).
        settings: How to train it (`LoopSettings`, usually the task's own settings).
        strategy: The tf.distribute strategy.
    """

    def __init__(self, task: Task, settings: LoopSettings, strategy: tf.distribute.Strategy):
        check_loop_settings(settings, strategy)
        self.task, self.settings, self.strategy = task, settings, strategy
        self.logged = task.logged
        # Under MultiWorkerMirrored only the chief keeps checkpoints and summaries; the other
        # workers must still take part in saving, so they write to a scratch folder.
        self.is_chief = strategy.extended.should_checkpoint
        self.precision = (auto_precision(strategy) if settings.precision == "auto"
                          else settings.precision)
        self.jit_compile = (auto_jit_compile(strategy) if settings.jit_compile is None
                            else settings.jit_compile)
        logging.info("precision %s%s, XLA %s (%s device)", self.precision,
                     ", evaluation and prediction in float32" if self.precision != "float32"
                     and settings.eval_in_float32 else "",
                     "on" if self.jit_compile else "off", device_type(strategy))
        keras.mixed_precision.set_global_policy(self.precision)
        # The seed fixes the initial weights and dropout too, not only the data order, so two
        # runs with the same settings in one process train identically.
        keras.utils.set_random_seed(settings.seed)
        with strategy.scope():
            self.model = task.build_model()
            for block in self.model.encoder.transformer_blocks:
                block.recompute_activations = settings.recompute_activations
            optimizer = create_optimizer(
                settings.optimizer, settings.learning_rate, settings.num_train_steps,
                settings.num_warmup_steps, settings.start_warmup_step, settings.poly_power,
                variables=self.model.trainable_variables)
            if self.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self.layout = RunLayout(settings.output_dir)
        self.checkpoint_dir = self.layout.checkpoint_dir
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.checkpoint_dir if self.is_chief else self._scratch_dir(),
            max_to_keep=settings.keep_checkpoint_max)
        self.warm_start_report = None

    # -- shared machinery ------------------------------------------------------------------

    def _scratch_dir(self) -> str:
        resolver = self.strategy.cluster_resolver
        return self.layout.scratch_dir(resolver.task_type, resolver.task_id)

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> int:
        """Restores the newest intact checkpoint (every worker reads the chief's), else
        warm-starts model weights from init_checkpoint; returns the step reached.

        A checkpoint whose files are damaged or missing (a disk filled up, a copy cut short)
        is skipped with a warning naming it, and the one before it is used; a checkpoint
        of another model or optimizer is an error, since an older one would not fit either.
        """
        if self.is_chief:
            # What a save killed half-way leaves (TF writes `<prefix>_temp/` first): in
            # checkpoints/, best/ and encoder/ alike.
            for leftover in tf.io.gfile.glob(os.path.join(self.settings.output_dir, "*",
                                                          "*_temp")):
                logging.info("removing %s, left by an interrupted save", leftover)
                tf.io.gfile.rmtree(leftover)
        state = tf.train.get_checkpoint_state(self.checkpoint_dir)
        candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
        damaged = []
        for path in candidates:
            if not tf.io.gfile.exists(path + ".index"):
                damaged.append(f"{path} (its files are missing)")
                continue
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (tf.errors.DataLossError, tf.errors.NotFoundError,
                    tf.errors.OutOfRangeError, IndexError) as error:  # IndexError: short .data
                reason = str(getattr(error, "message", error)).splitlines()[0][:200]
                damaged.append(f"{path} ({reason})")
                continue
            except (AssertionError, ValueError, tf.errors.OpError) as error:
                raise TrainingError(
                    f"cannot resume from {path}: it was written by a different model or "
                    f"optimizer ({str(error).splitlines()[0][:300]}); rerun with the settings "
                    "that wrote it, or use a new --output_dir") from None
            for description in damaged:
                logging.warning("checkpoint %s is damaged; skipped", description)
            logging.info("resumed from %s at step %d", path, self.step)
            self.task.after_restore(self)
            return self.step
        if damaged:
            raise TrainingError(f"every checkpoint in {self.checkpoint_dir} is damaged: "
                                f"{'; '.join(damaged)}; use a new --output_dir (or "
                                "--init_checkpoint to warm-start from elsewhere)")
        if self.settings.init_checkpoint:
            self.warm_start_report = warm_start(self.settings.init_checkpoint, self.model,
                                                self.task.warm_start_roots(self.model))
        self.task.after_restore(self)
        return self.step

    @contextlib.contextmanager
    def inference_precision(self):
        """Within it the model computes in float32 (its variables are float32 under every
        policy), unless the run trains in float32 anyway or `eval_in_float32` is off:
        evaluation and prediction then give what the float32 export serves."""
        if self.precision == "float32" or not self.settings.eval_in_float32:
            yield
            return
        # Keras has no public recursive layer list; _flatten_layers is what it uses itself.
        layers = list(self.model._flatten_layers(include_self=True, recursive=True))
        policies = [layer.dtype_policy for layer in layers]
        for layer in layers:
            layer.dtype_policy = keras.DTypePolicy("float32")
        try:
            yield
        finally:
            for layer, policy in zip(layers, policies):
                layer.dtype_policy = policy

    def save(self, step: int) -> None:
        path = self.manager.save(checkpoint_number=step)
        if self.is_chief:
            logging.info("saved %s", path)
        else:
            shutil.rmtree(self.manager.directory, ignore_errors=True)

    def distribute(self, dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset]):
        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def train_dataset(self, context: tf.distribute.InputContext) -> tf.data.Dataset:
        """The task's training data, one element per update: with gradient accumulation,
        `gradient_accumulation_steps` micro-batches of this replica's share stacked
        ([k, micro-batch, ...]), read in the order one big batch would be."""
        accumulation = self.settings.gradient_accumulation_steps
        if accumulation == 1:
            return self.task.train_dataset(context)
        # The task batches by the context's replica count: k times as many "replicas"
        # make its batches the micro-batches.
        micro = tf.distribute.InputContext(context.num_input_pipelines,
                                           context.input_pipeline_id,
                                           context.num_replicas_in_sync * accumulation)
        return self.task.train_dataset(micro).batch(accumulation, drop_remainder=True)

    def _gradients(self, features, loss_scale, update_totals=None):
        """(the task's logged values, gradients of the scaled loss; None where the loss
        does not reach a weight)."""
        with tf.GradientTape() as tape:
            values = self.task.replica_losses(self.model, features, True,
                                              self.settings.train_batch_size,
                                              update_totals=update_totals)
            loss = values["loss"] * tf.cast(loss_scale, values["loss"].dtype)
        return values, tape.gradient(loss, self.model.trainable_variables)

    def _accumulated_gradients(self, micro_batches, loss_scale):
        """Sums over the k micro-batches of one update (a loop in the graph, so k costs
        no graph size): each micro-batch's losses are already its share of the update's.
        A sparse (embedding) gradient keeps its rows, concatenated, so clipping and the
        optimizer see what one big batch's gradient would give them."""
        variables = self.model.trainable_variables
        totals = self.task.update_totals(micro_batches)
        steps = tf.shape(tf.nest.flatten(micro_batches)[0])[0]
        values, gradients = self._gradients(
            tf.nest.map_structure(lambda tensor: tensor[0], micro_batches), loss_scale, totals)
        # Unreached weights stay None, as in one big batch.
        sparse = [i for i, g in enumerate(gradients) if isinstance(g, tf.IndexedSlices)]
        dense = [i for i, g in enumerate(gradients) if g is not None and i not in sparse]

        def body(micro, dense_sums, rows, row_indices, value_sums):
            features = tf.nest.map_structure(lambda tensor: tensor[micro], micro_batches)
            more_values, more = self._gradients(features, loss_scale, totals)
            return (micro + 1,
                    [total + more[i] for total, i in zip(dense_sums, dense)],
                    [tf.concat([kept, more[i].values], 0) for kept, i in zip(rows, sparse)],
                    [tf.concat([kept, more[i].indices], 0)
                     for kept, i in zip(row_indices, sparse)],
                    {name: value_sums[name] + more_values[name] for name in value_sums})

        state = (tf.constant(1), [gradients[i] for i in dense],
                 [gradients[i].values for i in sparse], [gradients[i].indices for i in sparse],
                 dict(values))
        invariants = tf.nest.map_structure(lambda tensor: tensor.shape, state)
        invariants = (invariants[0], invariants[1],
                      [tf.TensorShape([None]).concatenate(shape[1:]) for shape in invariants[2]],
                      [tf.TensorShape([None]) for _ in invariants[3]], invariants[4])
        _, dense_sums, rows, row_indices, value_sums = tf.while_loop(
            lambda micro, *_: micro < steps, body, state, shape_invariants=invariants)
        summed = [None] * len(variables)
        for i, total in zip(dense, dense_sums):
            summed[i] = total
        for i, kept, kept_indices in zip(sparse, rows, row_indices):
            summed[i] = tf.IndexedSlices(kept, kept_indices, gradients[i].dense_shape)
        return value_sums, summed

    def _train_step(self, features):
        variables = self.model.trainable_variables
        loss_scale = (self.optimizer.dynamic_scale
                      if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer) else 1.0)
        if self.settings.gradient_accumulation_steps > 1:
            values, gradients = self._accumulated_gradients(features, loss_scale)
        else:
            values, gradients = self._gradients(features, loss_scale)
        # Weights the task's loss does not reach (the pooler, for span heads on the
        # sequence output) have no gradient and keep their values, as in the original.
        reached = [(gradient, variable) for gradient, variable in zip(gradients, variables)
                   if gradient is not None]
        gradients = clipped_replica_gradients([gradient for gradient, _ in reached], CLIP_NORM,
                                              loss_scale)
        self.optimizer.apply_gradients(zip(gradients, [variable for _, variable in reached]))
        return values

    def make_train_loop(self):
        """A tf.function `loop(iterator, steps)` running `steps` training steps on a
        distributed iterator and returning the *sums* over those steps of each logged value
        (the progress line shows their means; also what the benchmarks time)."""
        step_fn = (tf.function(self._train_step, jit_compile=True)
                   if self.jit_compile else self._train_step)

        def loop(iterator, steps):
            sums = {name: tf.constant(0.0) for name in self.logged}
            for _ in tf.range(steps):
                per_replica = self.strategy.run(step_fn, args=(next(iterator),))
                sums = {name: sums[name] + tf.cast(self.strategy.reduce(
                    "sum", per_replica[name], axis=None), tf.float32) for name in self.logged}
            return sums

        return tf.function(loop)

    def train(self, on_checkpoint: Optional[Callable[[int], None]] = None) -> Dict[str, float]:
        """Trains from the current step (call `restore` first) to num_train_steps, saving
        every save_checkpoints_steps and calling `on_checkpoint(step)` (by default the
        task's `on_checkpoint`) after each save; returns the last logged values (none when
        there was nothing left to train) after the task's `after_training`."""
        if on_checkpoint is None:
            on_checkpoint = lambda step: self.task.on_checkpoint(self, step)  # noqa: E731
        values = self._train(on_checkpoint)
        self.task.after_training(self, values)
        return values

    def _train(self, on_checkpoint: Callable[[int], None]) -> Dict[str, float]:
        settings = self.settings
        start_step = self.step
        if start_step >= settings.num_train_steps:
            logging.info("already at step %d of %d: nothing to train", start_step,
                         settings.num_train_steps)
            return {}
        iterator = iter(self.distribute(
            lambda context: self.train_dataset(context).skip(start_step)))
        loop = self.make_train_loop()
        writer = (tf.summary.create_file_writer(self.layout.train_logs)
                  if self.is_chief else tf.summary.create_noop_writer())
        progress = Progress(start_step, settings.num_train_steps)
        step, means = start_step, {}
        sums, summed_steps = {name: 0.0 for name in self.logged}, 0
        # A stop signal (Ctrl-C, a scheduler's SIGTERM) ends the running call of `loop`,
        # then the run saves a checkpoint at the step reached and stops (`StopSignals`).
        with StopSignals(enabled=not self._multi_worker) as stops:
            while step < settings.num_train_steps:
                steps = min(settings.iterations_per_loop, settings.num_train_steps - step,
                            settings.save_checkpoints_steps
                            - step % settings.save_checkpoints_steps,
                            settings.log_steps - step % settings.log_steps)
                try:
                    outputs = loop(iterator, tf.constant(steps))
                except tf.errors.DataLossError as error:
                    damaged = self.task.find_damaged_data() or error.message.splitlines()[0]
                    raise TrainingError(
                        f"the training data is damaged: {damaged}. Checkpoints up to "
                        f"{tf.train.latest_checkpoint(self.checkpoint_dir)} are kept; rewrite "
                        "the file and rerun to resume") from None
                step = self.step
                sums = {name: sums[name] + float(value) for name, value in outputs.items()}
                summed_steps += steps
                if not all(math.isfinite(v) for v in sums.values()):
                    raise TrainingError(
                        f"non-finite loss at step {step} (sums over the last {summed_steps} "
                        f"steps: {sums}); stopping. The last good checkpoint is "
                        f"{tf.train.latest_checkpoint(self.checkpoint_dir)}")
                if (step % settings.log_steps == 0 or step == settings.num_train_steps
                        or stops.requested):
                    means = {name: total / summed_steps for name, total in sums.items()}
                    self._log(writer, step, means, progress.lap(step))
                    sums, summed_steps = {name: 0.0 for name in self.logged}, 0
                if stops.requested:
                    self._stop(step, stops.requested)
                if (step % settings.save_checkpoints_steps == 0
                        or step == settings.num_train_steps):
                    self.save(step)
                    with self.inference_precision():
                        on_checkpoint(step)
                    progress.pause()  # evaluation time is not training throughput
        return means

    @property
    def _multi_worker(self) -> bool:
        """Under MultiWorkerMirrored a save takes every worker; a signal reaches one."""
        resolver = self.strategy.cluster_resolver
        return bool(resolver and len(resolver.cluster_spec().as_dict().get("worker", ())) > 1)

    def _stop(self, step: int, signal_name: str) -> None:
        """Saves the step reached (unless the last save was at it) and raises `Stopped`."""
        latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        if latest is None or not latest.endswith(f"-{step}"):
            self.save(step)
            latest = tf.train.latest_checkpoint(self.checkpoint_dir)
        raise Stopped(f"stopped by {signal_name} at step {step} of "
                      f"{self.settings.num_train_steps}; checkpoint {latest} saved: rerun the "
                      "same command to resume")

    def _log(self, writer, step: int, means: Dict[str, float], lap: "Lap") -> None:
        settings = self.settings
        learning_rate = float(self.optimizer.learning_rate)
        sequences_per_second = lap.steps_per_second * settings.train_batch_size
        tokens_per_second = sequences_per_second * self.task.sequence_length
        utilization = (sequences_per_second * self.task.flops_per_sequence
                       / (settings.peak_flops * self.strategy.num_replicas_in_sync)
                       if settings.peak_flops else None)
        with writer.as_default(step=step):
            for name, value in means.items():
                tf.summary.scalar(name, value)
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("sequences_per_second", sequences_per_second)
            tf.summary.scalar("tokens_per_second", tokens_per_second)
            if utilization is not None:
                tf.summary.scalar("model_flops_utilization", utilization)
        writer.flush()
        logging.info("step %d/%d (%.0f%%) | %s elapsed, ETA %s | %s (means over %d steps) | "
                     "lr %.3g | %.1f seq/s, %.0f tokens/s%s", step, settings.num_train_steps,
                     100.0 * step / settings.num_train_steps, format_duration(lap.elapsed),
                     format_duration(lap.remaining), ", ".join(
                         f"{name} {value:.4f}" for name, value in means.items()), lap.steps,
                     learning_rate, sequences_per_second, tokens_per_second,
                     "" if utilization is None else f", MFU {utilization:.1%}")
