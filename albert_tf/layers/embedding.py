"""ALBERT's factorized embedding: V -> E lookup, then an E -> H projection."""

import keras
from keras import ops

from albert_tf.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEmbedding(keras.layers.Layer):
    """Word + position + token-type embeddings of width E, LayerNorm, dropout, projection.

    Parameters are `V*E + P*E + T*E + 2E` for the lookups and LayerNorm plus `E*H + H`
    for the projection, instead of `V*H` in BERT. The projection (the original's
    `embedding_hidden_mapping_in`) is skipped when `embedding_size == hidden_size`, as in
    the original, unless `always_project` keeps it (Hugging Face and keras-hub models).

    Args:
        vocab_size: Number of token ids (V).
        embedding_size: Embedding width (E).
        hidden_size: Transformer width the output is projected to (H).
        max_position_embeddings: Rows of the position table (P).
        type_vocab_size: Rows of the token-type table (T).
        initializer_range: Stddev of the truncated-normal initializer.
        layer_norm_eps: LayerNorm epsilon.
        dropout_rate: Dropout applied after LayerNorm, before the projection.
        always_project: Keep the projection when `embedding_size == hidden_size`.
        project_first: brightmart/albert_zh's layout (`AlbertConfig.embedding_layout`):
            the word lookup is projected to H by a matrix without bias, then H-wide
            position and token-type embeddings are added and normalized.

    Example:

    >>> import numpy as np
    >>> layer = AlbertEmbedding(vocab_size=100, embedding_size=8, hidden_size=16,
    ...                         max_position_embeddings=32, type_vocab_size=2)
    >>> ids = np.array([[2, 17, 3, 0]])
    >>> tuple(layer(ids, np.zeros_like(ids)).shape)
    (1, 4, 16)
    """

    def __init__(
        self,
        vocab_size,
        embedding_size,
        hidden_size,
        max_position_embeddings,
        type_vocab_size,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        dropout_rate=0.0,
        always_project=False,
        project_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout_rate
        self.always_project = always_project
        self.project_first = project_first
        # The width of the summed, normalized embeddings.
        self.sum_width = hidden_size if project_first else embedding_size

        initializer = truncated_normal(initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, embedding_size, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="word_embeddings")
        self.token_type_embeddings = keras.layers.Embedding(
            type_vocab_size, self.sum_width, embeddings_initializer=initializer,
            dtype=self.dtype_policy, name="token_type_embeddings")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, dtype=self.dtype_policy, name="LayerNorm")
        self.dropout = keras.layers.Dropout(dropout_rate, dtype=self.dtype_policy)
        self.projection = None
        if embedding_size != hidden_size or always_project or project_first:
            self.projection = keras.layers.Dense(
                hidden_size, kernel_initializer=initializer, use_bias=not project_first,
                dtype=self.dtype_policy, name="embedding_hidden_mapping_in")

    def build(self, input_ids_shape=None, segment_ids_shape=None):
        self.word_embeddings.build()
        self.token_type_embeddings.build()
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_position_embeddings, self.sum_width),
            initializer=truncated_normal(self.initializer_range),
        )
        self.layer_norm.build((None, None, self.sum_width))
        if self.projection is not None:
            self.projection.build((None, None, self.embedding_size))
        self.built = True

    def call(self, input_ids, segment_ids, training=None):
        # input_ids, segment_ids: [batch, seq]
        seq_length = ops.shape(input_ids)[1]
        embeddings = self.word_embeddings(input_ids)  # [batch, seq, E]
        if self.project_first:
            embeddings = self.projection(embeddings)  # [batch, seq, H]
        embeddings = embeddings + self.token_type_embeddings(segment_ids)
        positions = ops.cast(self.position_embeddings[:seq_length], self.compute_dtype)
        embeddings = embeddings + positions[None, :, :]
        embeddings = self.dropout(self.layer_norm(embeddings), training=training)
        if self.projection is not None and not self.project_first:
            embeddings = self.projection(embeddings)  # [batch, seq, H]
        return embeddings

    @property
    def embedding_table(self):
        """The word embedding matrix [V, E]; the MLM head ties its output to it."""
        return self.word_embeddings.embeddings

    def compute_output_shape(self, input_ids_shape, segment_ids_shape=None):
        return tuple(input_ids_shape) + (self.hidden_size,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            embedding_size=self.embedding_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            initializer_range=self.initializer_range,
            layer_norm_eps=self.layer_norm_eps,
            dropout_rate=self.dropout_rate,
            always_project=self.always_project,
            project_first=self.project_first,
        )
        return config
