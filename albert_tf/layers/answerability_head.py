"""The original ALBERT's SQuAD 2.0 head: a start distribution, end logits conditioned on a
start, and an answerability logit."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal

# The original masks positions that cannot hold an answer with this much.
_MASKED = 1e30


def _masked(logits, p_mask):
    return logits * (1.0 - p_mask) - _MASKED * p_mask


@keras.saving.register_keras_serializable(package="albert_tf")
class AnswerabilitySpanHead(keras.layers.Layer):
    """run_squad_v2's head (XLNet's): start logits at every position; end logits from each
    position's hidden state joined with the start's (the gold start in training, each of
    the `start_n_top` most likely starts at inference, keeping `end_n_top` ends each);
    an answerability logit from [CLS] and the start-probability-weighted hidden state.
    Positions where `p_mask` is 1 (question, special tokens, padding) never start or end
    an answer.

    Args:
        hidden_size: H (the width of the two hidden dense layers).
        start_n_top: Starts kept at inference.
        end_n_top: Ends kept per start at inference.
        dropout_rate: Dropout in the answerability branch.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon of the end branch.

    Example:

    >>> import numpy as np
    >>> head = AnswerabilitySpanHead(hidden_size=8, start_n_top=2, end_n_top=3)
    >>> sequence, p_mask = np.random.rand(1, 6, 8).astype("float32"), np.zeros((1, 6), "float32")
    >>> outputs = head(sequence, p_mask)
    >>> tuple(outputs["start_top_index"].shape), tuple(outputs["end_top_index"].shape)
    ((1, 2), (1, 6))
    >>> sorted(head(sequence, p_mask, start_positions=np.array([2])))
    ['cls_logits', 'end_logits', 'start_logits']
    """

    def __init__(self, hidden_size, start_n_top=5, end_n_top=5, dropout_rate=0.1,
                 initializer_range=0.02, layer_norm_eps=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        initializer = truncated_normal(initializer_range)

        def dense(units, name, activation=None, use_bias=True):
            return keras.layers.Dense(units, activation=activation, use_bias=use_bias,
                                      kernel_initializer=initializer,
                                      dtype=self.dtype_policy, name=name)

        self.start_dense = dense(1, "start_logits")
        self.end_dense_0 = dense(hidden_size, "end_logits_dense_0", "tanh")
        self.end_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="end_logits_LayerNorm")
        self.end_dense_1 = dense(1, "end_logits_dense_1")
        self.answer_dense_0 = dense(hidden_size, "answer_class_dense_0", "tanh")
        self.answer_dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
        self.answer_dense_1 = dense(1, "answer_class_dense_1", use_bias=False)

    def build(self, sequence_output_shape, p_mask_shape=None, start_positions_shape=None):
        hidden = sequence_output_shape[-1]
        self.start_dense.build((None, hidden))
        self.end_dense_0.build((None, 2 * hidden))
        self.end_layer_norm.build((None, self.hidden_size))
        self.end_dense_1.build((None, self.hidden_size))
        self.answer_dense_0.build((None, 2 * hidden))
        self.answer_dense_1.build((None, self.hidden_size))
        self.built = True

    def _end_logits(self, sequence, start_states):
        # sequence: [..., seq, H]; start_states: the same shape (the start's, repeated)
        hidden = self.end_dense_0(ops.concatenate([sequence, start_states], axis=-1))
        return ops.cast(ops.squeeze(self.end_dense_1(self.end_layer_norm(hidden)), -1),
                        "float32")

    def call(self, sequence_output, p_mask, start_positions=None, training=None):
        # sequence_output: [batch, seq, H]; p_mask: [batch, seq], 1 = no answer there
        p_mask = ops.cast(p_mask, "float32")
        seq_length = ops.shape(sequence_output)[1]
        start_logits = _masked(ops.cast(ops.squeeze(self.start_dense(sequence_output), -1),
                                        "float32"), p_mask)  # [batch, seq]
        start_probs = ops.softmax(start_logits, axis=-1)
        sequence32 = ops.cast(sequence_output, "float32")
        start_feature = ops.einsum("bsh,bs->bh", sequence32, start_probs)
        answer = self.answer_dense_0(ops.cast(
            ops.concatenate([start_feature, sequence32[:, 0]], axis=-1), self.compute_dtype))
        answer = self.answer_dropout(answer, training=training)
        cls_logits = ops.cast(ops.squeeze(self.answer_dense_1(answer), -1), "float32")
        if start_positions is not None:
            index = ops.reshape(ops.cast(start_positions, "int32"), (-1, 1, 1))
            start_state = ops.take_along_axis(sequence_output, index, axis=1)  # [b, 1, H]
            start_states = ops.broadcast_to(start_state, ops.shape(sequence_output))
            end_logits = _masked(self._end_logits(sequence_output, start_states), p_mask)
            return {"start_logits": start_logits, "end_logits": end_logits,
                    "cls_logits": cls_logits}
        start_log_probs = ops.log_softmax(start_logits, axis=-1)
        start_top_log_probs, start_top_index = ops.top_k(start_log_probs, self.start_n_top)
        # [batch, k, H]: the hidden states of the k best starts
        start_states = ops.take_along_axis(sequence_output, start_top_index[:, :, None], axis=1)
        shape = (ops.shape(sequence_output)[0], self.start_n_top, seq_length,
                 ops.shape(sequence_output)[2])
        end_logits = self._end_logits(
            ops.broadcast_to(sequence_output[:, None], shape),
            ops.broadcast_to(start_states[:, :, None], shape))  # [batch, k, seq]
        end_log_probs = ops.log_softmax(_masked(end_logits, p_mask[:, None]), axis=-1)
        end_top_log_probs, end_top_index = ops.top_k(end_log_probs, self.end_n_top)
        flat = (-1, self.start_n_top * self.end_n_top)
        return {"start_top_log_probs": start_top_log_probs,
                "start_top_index": start_top_index,
                "end_top_log_probs": ops.reshape(end_top_log_probs, flat),
                "end_top_index": ops.reshape(end_top_index, flat),
                "cls_logits": cls_logits}

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, start_n_top=self.start_n_top,
                      end_n_top=self.end_n_top, dropout_rate=self.dropout_rate,
                      initializer_range=self.initializer_range,
                      layer_norm_eps=self.layer_norm_eps)
        return config
