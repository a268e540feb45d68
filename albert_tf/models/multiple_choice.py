"""ALBERT for multiple choice (RACE): one score per choice from the pooled output."""

import keras
from keras import ops

from albert_tf.data.features import ENCODER_FEATURES
from albert_tf.layers.choice_rows import ChoiceRows
from albert_tf.layers.classification_head import ClassificationHead
from albert_tf.models.base import EncoderTaskModel
from albert_tf.models.encoder import encoder_from


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertMultipleChoice(EncoderTaskModel):
    """Encoder + dropout + dense(1) on each choice's pooled output; float32 logits
    [batch, num_choices] (the original run_race's `output_weights` [1, H] and
    `output_bias` [1]; a softmax over the choices gives their probabilities).

    Inputs are `input_ids`, `input_mask` and `segment_ids`, each int32
    [batch, num_choices, seq]: choice k packed `[CLS] article [SEP] question+choice k
    [SEP]` (`data/race.py`).

    Args:
        encoder: The `AlbertEncoder` to put the head on (shared, not copied), or an
            `AlbertConfig` (or its dict form) to build a fresh one.
        num_choices: Choices per question (RACE: 4).
        dropout_rate: Dropout before the output layer (the original's dropout_prob 0.1).
        dtype: Optional dtype policy for the head (and for an encoder built from a config).

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertMultipleChoice(AlbertConfig.from_preset("tiny"), num_choices=4)
    >>> ids = np.tile(np.array([[[2, 10, 3, 11, 3]]], "int32"), (2, 4, 1))  # [2, 4, 5]
    >>> features = {"input_ids": ids, "input_mask": np.ones_like(ids),
    ...             "segment_ids": np.tile(np.array([0, 0, 0, 1, 1], "int32"), (2, 4, 1))}
    >>> tuple(model(features).shape)
    (2, 4)
    """

    def __init__(self, encoder, num_choices=4, dropout_rate=0.1, dtype=None, **kwargs):
        encoder = encoder_from(encoder, dtype)
        if num_choices < 2:
            raise ValueError(f"num_choices must be at least 2, got {num_choices}")
        head = ClassificationHead(
            num_classes=1, dropout_rate=dropout_rate,
            initializer_range=encoder.albert_config.initializer_range, dtype=dtype,
            name="classifier")
        inputs = {name: keras.Input(shape=(num_choices, None), dtype="int32", name=name)
                  for name in ENCODER_FEATURES}
        rows = ChoiceRows(name="choice_rows")
        pooled = encoder({name: rows(value) for name, value in inputs.items()})[
            "pooled_output"]  # [batch * choices, H]
        logits = ops.reshape(head(pooled), (-1, num_choices))  # [batch, choices]
        kwargs.setdefault("name", "albert_multiple_choice")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._finish_init(dtype, inputs)
        self.encoder = encoder
        self.head = head
        self.num_choices = num_choices
        self.dropout_rate = dropout_rate

    def extra_config(self):
        return {"num_choices": self.num_choices, "dropout_rate": self.dropout_rate}
