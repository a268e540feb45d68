"""ALBERT pretraining model: encoder + masked-LM head + sentence-order head."""

import keras

from albert_tf.layers.classification_head import ClassificationHead
from albert_tf.layers.masked_lm_head import MaskedLMHead
from albert_tf.models.base import EncoderTaskModel, encoder_inputs
from albert_tf.models.encoder import encoder_from
from albert_tf.models.losses import pretraining_losses

LABEL_NAMES = ("masked_lm_ids", "masked_lm_weights", "next_sentence_labels")


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertPretrainer(EncoderTaskModel):
    """Encoder with the MLM head (tied to the word embeddings) and the SOP head.

    Inputs: the encoder's three [batch, seq] tensors plus `masked_lm_positions`
    [batch, P]. Outputs: `mlm_logits` float32 [batch, P, V] and `sop_logits` float32
    [batch, 2]. `compute_losses` adds the objective given the label features named as in
    the original TFRecords (`masked_lm_ids`, `masked_lm_weights`, `next_sentence_labels`).

    Args:
        encoder: The `AlbertEncoder` to pretrain (shared, not copied), or an
            `AlbertConfig` (or its dict form) to build a fresh one.
        dtype: Optional dtype policy for the heads (and for an encoder built from a
            config).

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> model = AlbertPretrainer(AlbertConfig.from_preset("tiny"))
    >>> ids = np.array([[2, 10, 4, 3, 12, 3]], "int32")
    >>> batch = {"input_ids": ids, "input_mask": np.ones_like(ids),
    ...          "segment_ids": np.array([[0, 0, 0, 0, 1, 1]], "int32"),
    ...          "masked_lm_positions": np.array([[2, 0]], "int32"),
    ...          "masked_lm_ids": np.array([[11, 0]], "int32"),
    ...          "masked_lm_weights": np.array([[1.0, 0.0]], "float32"),
    ...          "next_sentence_labels": np.array([1], "int32")}
    >>> sorted(model.compute_losses(batch))[:3]
    ['loss', 'mlm_accuracy', 'mlm_correct_sum']
    """

    def __init__(self, encoder, dtype=None, **kwargs):
        encoder = encoder_from(encoder, dtype)
        config = encoder.albert_config
        mlm_head = MaskedLMHead(
            vocab_size=config.vocab_size,
            embedding_size=config.embedding_size,
            hidden_act=config.hidden_act,
            initializer_range=config.initializer_range,
            layer_norm_eps=config.layer_norm_eps,
            embedding_layer=encoder.embeddings,
            project_back=config.embedding_layout == "project_first",
            dtype=dtype,
            name="predictions",
        )
        sop_head = ClassificationHead(
            num_classes=2, initializer_range=config.initializer_range, dtype=dtype,
            name="seq_relationship")

        inputs = encoder_inputs()
        inputs["masked_lm_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="masked_lm_positions")
        encoded = encoder(inputs)
        outputs = {
            "mlm_logits": mlm_head(encoded["sequence_output"], inputs["masked_lm_positions"]),
            "sop_logits": sop_head(encoded["pooled_output"]),
        }
        kwargs.setdefault("name", "albert_pretrainer")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._finish_init(dtype, inputs)
        self.encoder = encoder
        self.mlm_head = mlm_head
        self.sop_head = sop_head

    def compute_losses(self, batch, training=None):
        """Runs the model on `batch` (features + labels) and returns `pretraining_losses`
        plus the logits under `mlm_logits` / `sop_logits`."""
        missing = [name for name in LABEL_NAMES if name not in batch]
        if missing:
            raise KeyError(f"batch lacks label features {missing}; expected {list(LABEL_NAMES)}")
        outputs = self(batch, training=training)
        losses = pretraining_losses(
            outputs["mlm_logits"], outputs["sop_logits"], batch["masked_lm_ids"],
            batch["masked_lm_weights"], batch["next_sentence_labels"])
        return {**losses, **outputs}
