"""Masked-LM head: gather masked positions, transform, project onto the tied embeddings."""

import keras
from keras import ops

from albert_tf.activations import get_activation
from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class MaskedLMHead(keras.layers.Layer):
    """Predicts the original ids at the masked positions only.

    Gathering the P masked positions before the vocabulary projection makes the costly
    [E, V] matmul run on `batch * P` rows instead of `batch * seq`. The output matrix is
    the word embedding table when `embedding_layer` is given (ALBERT ties them), else the
    head owns a [V, E] matrix. Logits are float32 under mixed precision.

    Args:
        vocab_size: Vocabulary size V.
        embedding_size: Embedding width E (the transform's output width).
        hidden_act: Activation of the transform dense layer.
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.
        embedding_layer: Optional `AlbertEmbedding` whose word table the output ties to.
        project_back: brightmart/albert_zh's head (`embedding_layout="project_first"`):
            the transform keeps the hidden width H and its output is taken back to E
            through the embedding layer's projection matrix, transposed.

    Example:

    >>> import numpy as np
    >>> head = MaskedLMHead(vocab_size=50, embedding_size=8)
    >>> sequence = np.random.rand(2, 6, 16).astype("float32")
    >>> tuple(head(sequence, np.array([[1, 4], [0, 2]])).shape)
    (2, 2, 50)
    """

    def __init__(
        self,
        vocab_size,
        embedding_size,
        hidden_act="gelu",
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        embedding_layer=None,
        project_back=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.embedding_layer = embedding_layer
        self.project_back = project_back
        if project_back and (embedding_layer is None or embedding_layer.projection is None):
            raise ValueError("project_back needs the embedding layer whose projection it "
                             "reuses")
        self.transform_size = (embedding_layer.hidden_size if project_back
                               else embedding_size)

        self.transform = keras.layers.Dense(
            self.transform_size, activation=get_activation(hidden_act),
            kernel_initializer=truncated_normal(initializer_range), dtype=self.dtype_policy,
            name="transform")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="LayerNorm")

    def build(self, sequence_output_shape, masked_positions_shape=None):
        self.transform.build(sequence_output_shape)
        self.layer_norm.build(tuple(sequence_output_shape[:-1]) + (self.transform_size,))
        if self.embedding_layer is None:
            self.output_embeddings = self.add_weight(
                name="output_embeddings", shape=(self.vocab_size, self.embedding_size),
                initializer=truncated_normal(self.initializer_range))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def call(self, sequence_output, masked_positions):
        # sequence_output: [batch, seq, H]; masked_positions: [batch, P]
        gathered = ops.take_along_axis(
            sequence_output, ops.cast(masked_positions, "int32")[:, :, None], axis=1
        )  # [batch, P, H]
        transformed = self.layer_norm(self.transform(gathered))  # [batch, P, E] (or H)
        if self.project_back:
            kernel = ops.cast(self.embedding_layer.projection.kernel, self.compute_dtype)
            transformed = ops.matmul(transformed, ops.transpose(kernel))  # [batch, P, E]
        table = (
            self.embedding_layer.embedding_table
            if self.embedding_layer is not None
            else self.output_embeddings
        )
        logits = ops.matmul(transformed, ops.transpose(ops.cast(table, self.compute_dtype)))
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")  # [batch, P, V]

    def compute_output_shape(self, sequence_output_shape, masked_positions_shape):
        return tuple(masked_positions_shape) + (self.vocab_size,)

    def get_config(self):
        # The tied embedding layer is wiring that the owning model re-creates.
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            hidden_act=self.hidden_act,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
            project_back=self.project_back,
        )
        return config
