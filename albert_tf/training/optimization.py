"""ALBERT's optimizer: LAMB or AdamW with decoupled weight decay 0.01 (not on LayerNorm or
bias variables), linear warmup then polynomial decay; and global-norm gradient clipping
that gives the same step whatever the replica count.

Keras's own `Lamb` and `AdamW` do the updates. One difference from the original TF1 LAMB:
Keras applies the weight decay outside the trust ratio (decoupled, like AdamW), the
original folded it into the update before computing the ratio.
"""

import re
from typing import Iterable, List, Optional, Sequence

import keras
import tensorflow as tf

# Matched against each variable's full path: Keras 3's own `var_names` option only sees the
# short name ("gamma"), which would miss LayerNorm scales.
WEIGHT_DECAY_EXCLUDED = re.compile(r"LayerNorm|layer_norm|bias")
OPTIMIZERS = ("lamb", "adamw")


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupPolynomialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup over `num_warmup_steps` (counted from `start_warmup_step`), then
    polynomial decay from `learning_rate` to 0 at `num_train_steps`, as the original.

    Example:

    >>> schedule = WarmupPolynomialDecay(1.0, num_train_steps=10, num_warmup_steps=2)
    >>> [round(float(schedule(step)), 2) for step in (0, 1, 2, 5, 10)]
    [0.0, 0.5, 0.8, 0.5, 0.0]
    """

    def __init__(self, learning_rate: float, num_train_steps: int, num_warmup_steps: int = 0,
                 start_warmup_step: int = 0, poly_power: float = 1.0):
        self.learning_rate = learning_rate
        self.num_train_steps = num_train_steps
        self.num_warmup_steps = num_warmup_steps
        self.start_warmup_step = start_warmup_step
        self.poly_power = poly_power
        self._decay = keras.optimizers.schedules.PolynomialDecay(
            learning_rate, max(num_train_steps, 1), end_learning_rate=0.0, power=poly_power)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        decayed = self._decay(step)
        if not self.num_warmup_steps:
            return decayed
        warmup_progress = (step - self.start_warmup_step) / float(self.num_warmup_steps)
        warmup = self.learning_rate * keras.ops.maximum(warmup_progress, 0.0)
        return keras.ops.where(step - self.start_warmup_step < self.num_warmup_steps,
                               warmup, decayed)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "num_train_steps": self.num_train_steps,
                "num_warmup_steps": self.num_warmup_steps,
                "start_warmup_step": self.start_warmup_step, "poly_power": self.poly_power}


def weight_decay_excluded(variables: Iterable[keras.Variable]) -> List[keras.Variable]:
    """The LayerNorm and bias variables, which get no weight decay."""
    return [v for v in variables if WEIGHT_DECAY_EXCLUDED.search(v.path)]


def create_optimizer(name: str, learning_rate: float, num_train_steps: int,
                     num_warmup_steps: int = 0, start_warmup_step: int = 0,
                     poly_power: float = 1.0, weight_decay: float = 0.01,
                     variables: Iterable[keras.Variable] = ()) -> keras.optimizers.Optimizer:
    """The pretraining/fine-tuning optimizer.

    Args:
        name: "lamb" or "adamw".
        learning_rate: Peak learning rate.
        num_train_steps: Where the decay reaches 0.
        num_warmup_steps: Linear warmup length.
        start_warmup_step: Step the warmup starts from.
        poly_power: Decay power (1 = linear).
        weight_decay: Decoupled decay, not applied to LayerNorm or bias variables.
        variables: The model's trainable variables, to exclude LayerNorm and bias ones
            from weight decay.

    Example:

    >>> optimizer = create_optimizer("lamb", 1e-3, num_train_steps=100)
    >>> type(optimizer).__name__, optimizer.weight_decay
    ('Lamb', 0.01)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {OPTIMIZERS}, got {name!r}")
    schedule = WarmupPolynomialDecay(learning_rate, num_train_steps, num_warmup_steps,
                                     start_warmup_step, poly_power)
    cls = keras.optimizers.Lamb if name == "lamb" else keras.optimizers.AdamW
    optimizer = cls(learning_rate=schedule, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                    weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_list=weight_decay_excluded(variables))
    return optimizer


def clipped_replica_gradients(gradients: Sequence[tf.Tensor], clip_norm: Optional[float],
                              loss_scale=1.0) -> List[tf.Tensor]:
    """Gradients to hand to `optimizer.apply_gradients` inside `strategy.run`, clipped by
    the norm of the *global* gradient.

    Keras clips each replica's partial gradient before summing across replicas, so its
    `global_clipnorm` makes the update depend on the replica count. This all-reduces first,
    clips the sum (its norm measured unscaled when a loss scale is in use), and divides by
    the replica count, so the optimizer's own sum restores exactly the clipped global
    gradient: one device and N replicas take the same step. An extra all-reduce of the
    gradients costs little for ALBERT, whose shared layers keep them small.

    Args:
        gradients: This replica's gradients of its share of the loss.
        clip_norm: Global-norm threshold; None for no clipping.
        loss_scale: The scale the loss was multiplied by (mixed_float16).
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    gradients = list(gradients)
    sparse = [isinstance(gradient, tf.IndexedSlices) for gradient in gradients]
    # An embedding's IndexedSlices counts in the norm row by row as gathered (a token
    # twice in the batch counts twice), as tf.clip_by_global_norm and the original do.
    sparse_squares = tf.add_n([tf.constant(0.0)] + [
        tf.reduce_sum(tf.square(tf.cast(gradient.values, tf.float32)))
        for gradient, is_sparse in zip(gradients, sparse) if is_sparse])
    if replicas > 1:
        # Sparse gradients are summed dense: the all-reduce of IndexedSlices gathers rows
        # with collectives inside a cond, and with batches of varying length (batches by
        # length) TF 2.21 mismatches those collectives across replicas ("Shape mismatch
        # in the collective instance"). The dense [vocab, E] sum is a fraction of the
        # gradients already all-reduced; the rows' squares are summed apart, so the norm
        # is one device's.
        *gradients, sparse_squares = context.all_reduce(
            tf.distribute.ReduceOp.SUM,
            [tf.convert_to_tensor(gradient) for gradient in gradients] + [sparse_squares])
    factor = tf.constant(1.0 / replicas)
    if clip_norm:
        dense_norm = tf.linalg.global_norm(
            [gradient for gradient, is_sparse in zip(gradients, sparse) if not is_sparse])
        norm = tf.sqrt(tf.square(dense_norm) + sparse_squares) / tf.cast(loss_scale,
                                                                           tf.float32)
        factor = factor * clip_norm / tf.maximum(norm, clip_norm)
    return [gradient * tf.cast(factor, gradient.dtype) for gradient in gradients]
