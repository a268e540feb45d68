"""Dense head on the pooled output: sentence-order prediction, classification, regression."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class ClassificationHead(keras.layers.Layer):
    """`Dense(num_classes)(Dropout(pooled_output))`, logits in float32.

    The pretraining model uses it with `num_classes=2` as the sentence-order head (the
    original's `cls/seq_relationship`); fine-tuning uses it for classification, or with
    `num_classes=1` for regression (STS-B).

    Args:
        num_classes: Output width; 1 for regression.
        dropout_rate: Dropout on the pooled output before the dense layer.
        initializer_range: Stddev of the truncated-normal initializer.

    Example:

    >>> import numpy as np
    >>> head = ClassificationHead(num_classes=3)
    >>> tuple(head(np.zeros((4, 16), "float32")).shape)
    (4, 3)
    """

    def __init__(self, num_classes, dropout_rate=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes}")
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
        self.dense = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(initializer_range),
            dtype=self.dtype_policy, name="output")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, pooled_output, training=None):
        # pooled_output: [batch, H] -> logits [batch, num_classes]
        return ops.cast(self.dense(self.dropout(pooled_output, training=training)), "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config
