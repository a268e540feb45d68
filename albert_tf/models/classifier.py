"""ALBERT sequence(-pair) classifier or regressor for fine-tuning."""

import keras

from albert_tf.layers.classification_head import ClassificationHead
from albert_tf.models.base import EncoderTaskModel, encoder_inputs
from albert_tf.models.encoder import encoder_from


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(EncoderTaskModel):
    """Encoder + dropout + dense on the pooled output; float32 logits [batch, num_classes].

    Args:
        encoder: The `AlbertEncoder` to put the head on (shared, not copied: a pretrained
            encoder's weights are the classifier's), or an `AlbertConfig` (or its dict
            form) to build a fresh one.
        num_classes: Number of labels; 1 makes a regressor (STS-B).
        dropout_rate: Dropout before the output layer (0.1 in the original fine-tuning).
        dtype: Optional dtype policy for the head (and for an encoder built from a config).

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.models.encoder import AlbertEncoder
    >>> encoder = AlbertEncoder(AlbertConfig.from_preset("tiny"))
    >>> model = AlbertClassifier(encoder, num_classes=3)
    >>> model.encoder is encoder
    True
    >>> ids = np.array([[2, 10, 3, 11, 3]], "int32")
    >>> tuple(model({"input_ids": ids, "input_mask": np.ones_like(ids),
    ...              "segment_ids": np.array([[0, 0, 0, 1, 1]], "int32")}).shape)
    (1, 3)
    """

    def __init__(self, encoder, num_classes, dropout_rate=0.1, dtype=None, **kwargs):
        encoder = encoder_from(encoder, dtype)
        head = ClassificationHead(
            num_classes=num_classes, dropout_rate=dropout_rate,
            initializer_range=encoder.albert_config.initializer_range, dtype=dtype,
            name="classifier")
        inputs = encoder_inputs()
        logits = head(encoder(inputs)["pooled_output"])  # [batch, num_classes]
        kwargs.setdefault("name", "albert_classifier")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._finish_init(dtype, inputs)
        self.encoder = encoder
        self.head = head
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate

    def extra_config(self):
        return {"num_classes": self.num_classes, "dropout_rate": self.dropout_rate}
