"""One ALBERT transformer block: self-attention sub-layer, then feed-forward sub-layer."""

import keras
from keras import ops

from albert_tf.layers.feed_forward import FeedForwardSublayer
from albert_tf.layers.self_attention import SelfAttentionSublayer


@keras.saving.register_keras_serializable(package="albert_tf")
class TransformerBlock(keras.layers.Layer):
    """A post-LayerNorm transformer block that ALBERT reuses across layers.

    Calling the same block instance several times is how layers share all their
    parameters. To share only one half (the paper's attention-only or FFN-only ablations)
    pass an existing sub-layer: blocks built around the same `attention` instance share
    its weights and keep their own feed-forward weights, and vice versa. Keras counts a
    shared variable once.

    Args:
        hidden_size: Model width H.
        num_attention_heads: Attention heads.
        intermediate_size: Feed-forward inner width.
        hidden_act: Feed-forward activation name.
        hidden_dropout_rate: Dropout on each sub-layer's output.
        attention_dropout_rate: Dropout on attention probabilities.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.
        attention: Optional `SelfAttentionSublayer` to share instead of creating one.
        feed_forward: Optional `FeedForwardSublayer` to share instead of creating one.
        recompute_activations: In training, keep only the block's input for the backward
            pass and recompute its activations there (`keras.remat`): less memory for
            about one more forward pass. Needs the block's dropout rates at 0 (ALBERT v2's),
            since a recomputed dropout mask would not be the forward's.

    Example:

    >>> import numpy as np
    >>> block = TransformerBlock(hidden_size=8, num_attention_heads=2, intermediate_size=16)
    >>> x = np.random.rand(2, 5, 8).astype("float32")
    >>> tuple(block(block(x)).shape)  # the same weights applied twice
    (2, 5, 8)
    """

    def __init__(
        self,
        hidden_size,
        num_attention_heads,
        intermediate_size,
        hidden_act="gelu",
        hidden_dropout_rate=0.0,
        attention_dropout_rate=0.0,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        attention=None,
        feed_forward=None,
        recompute_activations=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.recompute_activations = recompute_activations
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_rate = hidden_dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps

        self.attention = attention or SelfAttentionSublayer(
            hidden_size=hidden_size,
            num_attention_heads=num_attention_heads,
            attention_dropout_rate=attention_dropout_rate,
            hidden_dropout_rate=hidden_dropout_rate,
            initializer_range=initializer_range,
            layer_norm_eps=layer_norm_eps,
            dtype=self.dtype_policy,
            name="attention_1",
        )
        self.feed_forward = feed_forward or FeedForwardSublayer(
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            hidden_act=hidden_act,
            dropout_rate=hidden_dropout_rate,
            initializer_range=initializer_range,
            layer_norm_eps=layer_norm_eps,
            dtype=self.dtype_policy,
            name="ffn_1",
        )

    def build(self, hidden_states_shape, padding_mask_shape=None):
        if not self.attention.built:
            self.attention.build(hidden_states_shape)
        if not self.feed_forward.built:
            self.feed_forward.build(hidden_states_shape)
        self.built = True

    def call(self, hidden_states, padding_mask=None, training=None):
        # hidden_states: [batch, seq, H]; padding_mask: [batch, seq]
        if not (self.recompute_activations and training):
            return self._sublayers(hidden_states, padding_mask, training)
        if self.hidden_dropout_rate or self.attention_dropout_rate:
            raise ValueError(f"{self.name}: recompute_activations needs hidden and attention "
                             "dropout at 0 (a recomputed dropout mask would not be the "
                             "forward pass's)")
        if padding_mask is None:
            padding_mask = ops.ones(ops.shape(hidden_states)[:2], "int32")
        # Positional tensors only: TensorFlow's recompute_grad takes no keyword arguments.
        return keras.remat(lambda states, mask: self._sublayers(states, mask, training))(
            hidden_states, padding_mask)

    def _sublayers(self, hidden_states, padding_mask, training):
        hidden_states = self.attention(hidden_states, padding_mask=padding_mask, training=training)
        return self.feed_forward(hidden_states, training=training)

    def compute_output_shape(self, hidden_states_shape, padding_mask_shape=None):
        return hidden_states_shape

    def get_config(self):
        # Shared sub-layers are wiring, not configuration: the encoder recreates them from
        # its AlbertConfig, and a block restored on its own owns both halves.
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout_rate=self.hidden_dropout_rate,
            attention_dropout_rate=self.attention_dropout_rate,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
            recompute_activations=self.recompute_activations,
        )
        return config
