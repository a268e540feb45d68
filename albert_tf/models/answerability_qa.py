"""ALBERT question answering with unanswerable questions (SQuAD v2.0): the original
run_squad_v2 model."""

import keras

from albert_tf.layers.answerability_head import AnswerabilitySpanHead
from albert_tf.models.base import EncoderTaskModel, encoder_inputs
from albert_tf.models.encoder import encoder_from

P_MASK = "p_mask"  # [batch, seq] int, 1 where no answer can start or end


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertAnswerabilityQA(EncoderTaskModel):
    """Encoder + `AnswerabilitySpanHead`. Called as a Keras model it predicts: the
    `start_n_top` best starts, `end_n_top` ends for each, and `cls_logits` (higher: less
    likely answerable). `training_outputs` gives what the loss needs, with the end
    logits conditioned on the gold start.

    Args:
        encoder: The `AlbertEncoder` to put the head on (shared, not copied), or an
            `AlbertConfig` (or its dict form) to build a fresh one.
        start_n_top: Starts kept at inference (the original's 5).
        end_n_top: Ends kept per start (5).
        dropout_rate: Dropout in the answerability branch (the original's dropout_prob).
        dtype: Optional dtype policy for the head (and for an encoder built from a config).

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertAnswerabilityQA(AlbertConfig.from_preset("tiny"), start_n_top=2,
    ...                               end_n_top=2)
    >>> ids = np.array([[2, 10, 3, 11, 12, 3]], "int32")
    >>> features = {"input_ids": ids, "input_mask": np.ones_like(ids),
    ...             "segment_ids": np.array([[0, 0, 0, 1, 1, 1]], "int32"),
    ...             "p_mask": np.array([[0, 1, 1, 0, 0, 1]], "int32")}
    >>> outputs = model(features)
    >>> tuple(outputs["end_top_index"].shape), tuple(outputs["cls_logits"].shape)
    ((1, 4), (1,))
    """

    def __init__(self, encoder, start_n_top=5, end_n_top=5, dropout_rate=0.1, dtype=None,
                 **kwargs):
        encoder = encoder_from(encoder, dtype)
        config = encoder.albert_config
        head = AnswerabilitySpanHead(
            hidden_size=config.hidden_size, start_n_top=start_n_top, end_n_top=end_n_top,
            dropout_rate=dropout_rate, initializer_range=config.initializer_range,
            layer_norm_eps=config.layer_norm_eps, dtype=dtype, name="answerability")
        inputs = encoder_inputs()
        inputs[P_MASK] = keras.Input(shape=(None,), dtype="int32", name=P_MASK)
        outputs = head(encoder(inputs)["sequence_output"], inputs[P_MASK])
        kwargs.setdefault("name", "albert_answerability_qa")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._finish_init(dtype, inputs)
        self.encoder = encoder
        self.head = head
        self.start_n_top = start_n_top
        self.end_n_top = end_n_top
        self.dropout_rate = dropout_rate

    def training_outputs(self, features, training=True):
        """`start_logits`, `end_logits` (for the gold `start_positions`) and `cls_logits`,
        each float32 with masked positions at -1e30."""
        sequence = self.encoder(features, training=training)["sequence_output"]
        return self.head(sequence, features[P_MASK], start_positions=features["start_positions"],
                         training=training)

    def extra_config(self):
        return {"start_n_top": self.start_n_top, "end_n_top": self.end_n_top,
                "dropout_rate": self.dropout_rate}
