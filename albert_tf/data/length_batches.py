"""Batches of examples of similar length, each cut to its longest example.

Fine-tuning records are padded to `max_seq_length`, but most sentences are far shorter
(SST-2's average about 25 pieces at length 128), and every padded position costs as
much as a real one. Grouping examples into length buckets and cutting each batch to its
longest example removes most of that padding while keeping the batch size, so a step
still averages over `batch_size` examples.

Training: the examples are shuffled first (the caller's seeded shuffle), grouped into
buckets `bucket_width` positions wide, and the finished batches shuffled again, so which
bucket comes next stays random; the order is a function of the seed, so a resumed run
skips to the same batches. Evaluation and prediction: every example is kept, each
carrying its position in the file (`example_index`) so the outputs can be put back in
file order (`in_file_order`).
"""

from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

BUCKET_WIDTH = 16
BATCH_SHUFFLE_BUFFER = 64
EXAMPLE_INDEX = "example_index"


def length_batches(examples: tf.data.Dataset, batch_size: int, max_seq_length: int,
                   sequence_features: Sequence[str], is_training: bool,
                   seed: Optional[int] = None, pad_to_bucket: bool = False,
                   bucket_width: int = BUCKET_WIDTH,
                   group_size: Optional[int] = None) -> tf.data.Dataset:
    """Batches of `examples` (single parsed examples with an `input_mask`) grouped by
    length, the `sequence_features` cut to [batch, longest]. Training batches all hold
    `batch_size` examples; evaluation batches add `example_index` and keep every example
    (the last batch of each bucket may be smaller).

    Args:
        examples: Parsed examples, each feature [max_seq_length] or a scalar.
        batch_size: Examples per batch.
        max_seq_length: The records' padded length.
        sequence_features: The features of shape [max_seq_length] to cut.
        is_training: Training input (infinite, full batches) or evaluation input.
        seed: Seeds the shuffle of finished training batches.
        group_size: Examples grouped and cut together (a multiple of `batch_size`), then
            split into consecutive batches: the whole update's examples when this input
            pipeline feeds several replicas or accumulated micro-batches, so each of them
            gets its slice of what one device with one big batch would see.
        pad_to_bucket: Cut to the bucket's upper bound instead of the batch's longest, so
            only `max_seq_length / bucket_width` shapes occur (XLA compiles each shape).
        bucket_width: Lengths per bucket.

    Example:

    >>> import numpy as np
    >>> masks = np.array([[1] * n + [0] * (8 - n) for n in (2, 7, 3, 8)], "int32")
    >>> data = tf.data.Dataset.from_tensor_slices({"input_mask": masks})
    >>> batches = length_batches(data, 2, 8, ["input_mask"], is_training=False,
    ...                          bucket_width=4)
    >>> [(b["example_index"].numpy().tolist(), b["input_mask"].shape[1]) for b in batches]
    [([0, 2], 3), ([1, 3], 8)]
    """
    if not is_training:
        examples = examples.enumerate().map(
            lambda index, features: {**features, EXAMPLE_INDEX: tf.cast(index, tf.int32)})

    def bucket(features):
        length = tf.reduce_sum(tf.cast(features["input_mask"], tf.int64))
        return tf.maximum(length - 1, 0) // bucket_width

    def cut(features):
        length = tf.reduce_max(tf.reduce_sum(tf.cast(features["input_mask"], tf.int32), 1))
        if pad_to_bucket:
            length = tf.minimum((length + bucket_width - 1) // bucket_width * bucket_width,
                                max_seq_length)
        return {name: value[:, :length] if name in sequence_features else value
                for name, value in features.items()}

    group_size = group_size or batch_size
    if group_size % batch_size:
        raise ValueError(f"group_size {group_size} is not a multiple of batch_size "
                         f"{batch_size}")
    groups = examples.group_by_window(
        key_func=bucket, window_size=group_size,
        reduce_func=lambda _, window: window.batch(group_size, drop_remainder=is_training))
    groups = groups.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
    if is_training:
        groups = groups.shuffle(BATCH_SHUFFLE_BUFFER, seed=seed)
    if group_size == batch_size:
        return groups
    return groups.flat_map(
        lambda group: tf.data.Dataset.from_tensor_slices(group).batch(batch_size))


def in_file_order(outputs: Sequence[np.ndarray], indices: Sequence[np.ndarray]) -> np.ndarray:
    """The batches' outputs ([batch, ...] each) put back in file order by their
    `example_index` values; every index from 0 to n - 1 must occur once."""
    outputs, indices = np.concatenate(outputs), np.concatenate(indices)
    if not np.array_equal(np.sort(indices), np.arange(len(indices))):
        raise ValueError(f"example indices are not a permutation of 0..{len(indices) - 1}")
    ordered = np.empty_like(outputs)
    ordered[indices] = outputs
    return ordered


def length_summary(input_mask: np.ndarray) -> Dict[str, float]:
    """Mean and maximum real length, for the cache's sidecar and the logs."""
    lengths = np.sum(input_mask, axis=1)
    return {"mean_length": round(float(np.mean(lengths)), 3),
            "max_length": int(np.max(lengths))}
