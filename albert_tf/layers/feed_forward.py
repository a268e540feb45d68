"""Position-wise feed-forward sub-layer with its residual connection and LayerNorm."""

import keras

from albert_tf.activations import get_activation
from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class FeedForwardSublayer(keras.layers.Layer):
    """`LayerNorm(x + Dropout(Dense_H(act(Dense_I(x)))))`, post-LN as in ALBERT.

    Args:
        hidden_size: Model width H.
        intermediate_size: Inner width I.
        hidden_act: Activation name (`gelu` is the tanh approximation).
        dropout_rate: Dropout on the output projection.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.

    Example:

    >>> import numpy as np
    >>> layer = FeedForwardSublayer(hidden_size=8, intermediate_size=32)
    >>> tuple(layer(np.zeros((2, 5, 8), "float32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        hidden_size,
        intermediate_size,
        hidden_act="gelu",
        dropout_rate=0.0,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps

        initializer = truncated_normal(initializer_range)
        self.intermediate_dense = keras.layers.Dense(
            intermediate_size, activation=get_activation(hidden_act),
            kernel_initializer=initializer, dtype=self.dtype_policy, name="intermediate")
        self.output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=initializer, dtype=self.dtype_policy, name="output")
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="LayerNorm_1")

    def build(self, input_shape):
        self.intermediate_dense.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.layer_norm.build(input_shape)
        self.built = True

    def call(self, hidden_states, training=None):
        # hidden_states: [batch, seq, H]
        intermediate = self.intermediate_dense(hidden_states)  # [batch, seq, I]
        output = self.dropout(self.output_dense(intermediate), training=training)
        return self.layer_norm(output + hidden_states)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
        )
        return config
