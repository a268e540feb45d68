"""ALBERT sequence(-pair) classifier or regressor for fine-tuning."""

import keras

from albert_tf.layers.classification_head import ClassificationHead
from albert_tf.models.base import AlbertConfiguredModel, as_albert_config, encoder_inputs
from albert_tf.models.encoder import AlbertEncoder


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertClassifier(AlbertConfiguredModel):
    """Encoder + dropout + dense on the pooled output; float32 logits [batch, num_classes].

    Args:
        config: An `AlbertConfig` (or its dict form).
        num_classes: Number of labels; 1 makes a regressor (STS-B).
        dropout_rate: Dropout before the output layer (0.1 in the original fine-tuning).
        dtype: Optional dtype policy for every layer.

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertClassifier(AlbertConfig.from_preset("tiny"), num_classes=3)
    >>> ids = np.array([[2, 10, 3, 11, 3]], "int32")
    >>> tuple(model({"input_ids": ids, "input_mask": np.ones_like(ids),
    ...              "segment_ids": np.array([[0, 0, 0, 1, 1]], "int32")}).shape)
    (1, 3)
    """

    def __init__(self, config, num_classes, dropout_rate=0.1, dtype=None, **kwargs):
        config = as_albert_config(config)
        encoder = AlbertEncoder(config, dtype=dtype)
        head = ClassificationHead(
            num_classes=num_classes, dropout_rate=dropout_rate,
            initializer_range=config.initializer_range, dtype=dtype, name="classifier")
        inputs = encoder_inputs()
        logits = head(encoder(inputs)["pooled_output"])
        kwargs.setdefault("name", "albert_classifier")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self._finish_init(config, dtype, inputs)
        self.encoder = encoder
        self.head = head
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate

    def extra_config(self):
        return {"num_classes": self.num_classes, "dropout_rate": self.dropout_rate}
