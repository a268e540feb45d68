"""ALBERT extractive question answering (SQuAD v1.1 style): span logits over the sequence."""

import keras

from albert_tf.layers.span_head import SpanHead
from albert_tf.models.base import EncoderTaskModel, encoder_inputs
from albert_tf.models.encoder import encoder_from


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertQuestionAnswering(EncoderTaskModel):
    """Encoder + `SpanHead` on the sequence output: float32 `start_logits` and
    `end_logits` [batch, seq].

    Args:
        encoder: The `AlbertEncoder` to put the head on (shared, not copied), or an
            `AlbertConfig` (or its dict form) to build a fresh one.
        dtype: Optional dtype policy for the head (and for an encoder built from a config).

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertQuestionAnswering(AlbertConfig.from_preset("tiny"))
    >>> ids = np.array([[2, 10, 3, 11, 12, 3]], "int32")
    >>> outputs = model({"input_ids": ids, "input_mask": np.ones_like(ids),
    ...                  "segment_ids": np.array([[0, 0, 0, 1, 1, 1]], "int32")})
    >>> tuple(outputs["start_logits"].shape), tuple(outputs["end_logits"].shape)
    ((1, 6), (1, 6))
    """

    def __init__(self, encoder, dtype=None, **kwargs):
        encoder = encoder_from(encoder, dtype)
        head = SpanHead(initializer_range=encoder.albert_config.initializer_range, dtype=dtype,
                        name="span")
        inputs = encoder_inputs()
        start_logits, end_logits = head(encoder(inputs)["sequence_output"])
        kwargs.setdefault("name", "albert_question_answering")
        super().__init__(inputs=inputs, outputs={"start_logits": start_logits,
                                                 "end_logits": end_logits}, **kwargs)
        self._finish_init(dtype, inputs)
        self.encoder = encoder
        self.head = head
