"""Multi-head self-attention sub-layer with its residual connection and LayerNorm."""

import math

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal

# The original's additive mask value. exp(-10000) underflows to exactly 0 in float32, so
# padded keys get zero weight, and the value stays finite in float16.
_MASK_PENALTY = -10000.0


@keras.saving.register_keras_serializable(package="albert_tf")
class SelfAttentionSublayer(keras.layers.Layer):
    """`LayerNorm(x + Dropout(Dense(MultiHeadAttention(x))))`, post-LN as in ALBERT.

    Query, key, value and output projections are separate [H, H] dense layers so their
    weights map one to one onto the original checkpoint's `attention_1/self/{query,key,
    value}` and `attention_1/output/dense`. Scores and the softmax run in float32 under
    mixed precision.

    Args:
        hidden_size: Model width H.
        num_attention_heads: Heads N; H must be divisible by N.
        attention_dropout_rate: Dropout on the attention probabilities.
        hidden_dropout_rate: Dropout on the output projection.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.

    Example:

    >>> import numpy as np
    >>> layer = SelfAttentionSublayer(hidden_size=8, num_attention_heads=2)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(layer(x, padding_mask=np.ones((2, 5))).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        hidden_size,
        num_attention_heads,
        attention_dropout_rate=0.0,
        hidden_dropout_rate=0.0,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_attention_heads "
                f"({num_attention_heads})"
            )
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.head_size = hidden_size // num_attention_heads
        self.attention_dropout_rate = attention_dropout_rate
        self.hidden_dropout_rate = hidden_dropout_rate
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps

        def dense(name):
            return keras.layers.Dense(
                hidden_size, kernel_initializer=truncated_normal(initializer_range),
                dtype=self.dtype_policy, name=name)

        self.query = dense("query")
        self.key = dense("key")
        self.value = dense("value")
        self.output_dense = dense("dense")
        self.attention_dropout = keras.layers.Dropout(
            attention_dropout_rate, dtype=self.dtype_policy)
        self.output_dropout = keras.layers.Dropout(hidden_dropout_rate, dtype=self.dtype_policy)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="LayerNorm")

    def build(self, input_shape):
        for layer in (self.query, self.key, self.value, self.output_dense):
            layer.build(input_shape)
        self.layer_norm.build(input_shape)
        self.built = True

    def _split_heads(self, x):
        # [batch, seq, H] -> [batch, seq, N, H/N]
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        return ops.reshape(x, (batch, seq, self.num_attention_heads, self.head_size))

    def call(self, hidden_states, padding_mask=None, training=None):
        # hidden_states: [batch, seq, H]; padding_mask: [batch, seq], 1 = real token.
        query = self._split_heads(self.query(hidden_states))
        key = self._split_heads(self.key(hidden_states))
        value = self._split_heads(self.value(hidden_states))

        scores = ops.einsum("bqnd,bknd->bnqk", query, key)  # [batch, N, seq, seq]
        scores = ops.cast(scores, "float32") * (1.0 / math.sqrt(self.head_size))
        if padding_mask is not None:
            # expand_dims, not [:, None, None, :]: LiteRT's builtins lack the new-axis slice.
            mask = ops.expand_dims(ops.expand_dims(ops.cast(padding_mask, "float32"), 1), 1)
            # mask: [batch, 1, 1, seq]
            scores = scores + (1.0 - mask) * _MASK_PENALTY
        probabilities = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probabilities = self.attention_dropout(probabilities, training=training)

        context = ops.einsum("bnqk,bknd->bqnd", probabilities, value)  # [batch, seq, N, H/N]
        batch, seq = ops.shape(context)[0], ops.shape(context)[1]
        context = ops.reshape(context, (batch, seq, self.hidden_size))  # [batch, seq, H]

        output = self.output_dropout(self.output_dense(context), training=training)
        return self.layer_norm(output + hidden_states)

    def compute_output_shape(self, hidden_states_shape, padding_mask_shape=None):
        return hidden_states_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            attention_dropout_rate=self.attention_dropout_rate,
            hidden_dropout_rate=self.hidden_dropout_rate,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
        )
        return config
