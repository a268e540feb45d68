"""Answer-span head: start and end logits at every position (SQuAD v1.1)."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class SpanHead(keras.layers.Layer):
    """One dense layer with two outputs per position: the answer's start and end logits.

    The original run_squad_v1's `cls/squad/output_weights` [2, H] and `output_bias` [2],
    and Hugging Face's `AlbertForQuestionAnswering.qa_outputs`, are this layer.

    Args:
        initializer_range: Stddev of the truncated-normal initializer.

    Example:

    >>> import numpy as np
    >>> start, end = SpanHead()(np.zeros((2, 7, 16), "float32"))
    >>> tuple(start.shape), tuple(end.shape)
    ((2, 7), (2, 7))
    """

    def __init__(self, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=truncated_normal(initializer_range), dtype=self.dtype_policy,
            name="qa_outputs")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, sequence_output):
        # sequence_output: [batch, seq, H] -> two float32 [batch, seq]
        logits = ops.cast(self.dense(sequence_output), "float32")  # [batch, seq, 2]
        return logits[..., 0], logits[..., 1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]), tuple(input_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(initializer_range=self.initializer_range)
        return config
