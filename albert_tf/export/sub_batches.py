"""A request's texts run in sub-batches of similar length, inside the serving graph.

A batch of real sentences padded to its longest wastes most of its positions (SST-2 dev:
27 tokens on average, the longest of 32 random ones often over 50). `run_by_length` sorts
the rows by length, cuts them into sub-batches of `sub_batch_size` rows each padded only
to its own longest rounded up to a multiple of `length_multiple` (so the shapes the model
sees stay few: TF Serving's and XLA's caches stay small), runs the model on each, and puts
the outputs back in the request's order. The last sub-batch is filled up with copies of
the longest row so that every sub-batch has the same number of rows; a request of at most
`sub_batch_size` rows runs as it is (its own size and width: rounding the width up would
only add work to a single text).

A row's length is its extent: one past its last unmasked position (the number of ones for
a packed row; a mask with holes keeps every unmasked position). Padding is masked, so each
row's outputs are those of the whole-batch call up to float rounding
(tests/test_sub_batches.py: 1e-5 on SST-2 and ChnSentiCorp dev text, raw and as ids
padded to max_seq_length); sequence outputs are `fill` (0) past the row's sub-batch width, where the
whole-batch call returns values of masked positions.

Example:

    >>> import tensorflow as tf
    >>> features = {"input_ids": tf.constant([[2, 7, 3, 0, 0], [2, 7, 8, 9, 3]]),
    ...             "input_mask": tf.constant([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])}
    >>> widths = run_by_length(lambda chunk: {"width": tf.fill(
    ...     [tf.shape(chunk["input_ids"])[0]], tf.shape(chunk["input_ids"])[1])},
    ...     features, sub_batch_size=1, length_multiple=2)
    >>> widths["width"].numpy().tolist()
    [4, 5]
"""

from typing import Callable, Dict, Sequence

import tensorflow as tf

Features = Dict[str, tf.Tensor]


def run_by_length(run: Callable[[Features], Features], features: Features,
                  sub_batch_size: int, length_multiple: int,
                  sequence_outputs: Sequence[str] = (), fill: float = 0.0,
                  min_width: int = 1) -> Features:
    """`run(features)` computed sub-batch by sub-batch (see the module docstring).

    Args:
        run: Packed features of some rows -> a dict of outputs with those rows first.
        features: int32 [batch, width] tensors, `input_mask` among them (batch >= 1).
        sub_batch_size: Rows per sub-batch.
        length_multiple: Sub-batch widths are rounded up to a multiple of it (at most
            `width`).
        sequence_outputs: Outputs (those `run` returns) with a sequence axis second
            ([rows, seq, ...]): padded back to `width` with `fill`.
        fill: Their value past a sub-batch's width.
        min_width: No sub-batch is cut narrower (a model that takes the top k positions
            needs k of them).
    """
    mask = tf.cast(features["input_mask"], tf.int32)  # [batch, width]
    width = tf.shape(mask)[1]
    lengths = tf.reduce_max(mask * tf.range(1, width + 1)[None, :], axis=1)  # [batch]
    batch = tf.shape(lengths)[0]
    # A request smaller than a sub-batch is one sub-batch of its own size (filling it up
    # would multiply a single text's work).
    rows_per_chunk = tf.minimum(sub_batch_size, batch)
    chunks = (batch + rows_per_chunk - 1) // rows_per_chunk
    order = tf.argsort(lengths, stable=True)  # shortest first
    filled = tf.concat([order, tf.fill([chunks * rows_per_chunk - batch], order[-1])], 0)

    def chunk_outputs(index):
        rows = filled[index * rows_per_chunk:(index + 1) * rows_per_chunk]
        longest = tf.reduce_max(tf.gather(lengths, rows))
        rounded = (longest + length_multiple - 1) // length_multiple * length_multiple
        # One sub-batch (a small request) runs at its exact width, as without sub-batches.
        cut = tf.where(chunks > 1, tf.minimum(tf.maximum(rounded, min_width), width), width)
        outputs = run({name: tf.gather(value, rows)[:, :cut]  # [sub_batch, cut]
                       for name, value in features.items()})
        for name in set(sequence_outputs) & set(outputs):
            value = outputs[name]
            pad = tf.concat([[[0, 0], [0, width - cut]],
                             tf.zeros([tf.rank(value) - 2, 2], tf.int32)], 0)
            outputs[name] = tf.pad(value, pad, constant_values=tf.cast(fill, value.dtype))
            # [sub_batch, width, ...]
        return outputs

    # The first sub-batch outside the loop: it gives the outputs' names and dtypes.
    first = chunk_outputs(0)
    names = sorted(first)
    arrays = [tf.TensorArray(first[name].dtype, size=chunks, infer_shape=False)
              .write(0, first[name]) for name in names]

    def body(index, arrays):
        outputs = chunk_outputs(index)
        return index + 1, [array.write(index, outputs[name])
                           for array, name in zip(arrays, names)]

    _, arrays = tf.while_loop(lambda index, _: index < chunks, body, (1, arrays))
    back = tf.math.invert_permutation(order)  # request row -> its place in `order`
    return {name: tf.gather(array.concat(), back) for name, array in zip(names, arrays)}
