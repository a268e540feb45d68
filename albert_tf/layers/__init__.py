"""Keras layers that make up ALBERT: embedding, transformer sub-layers and heads."""

from albert_tf.quiet_tensorflow import import_quietly

# Every model module imports these layers: TensorFlow, which Keras imports next, comes in
# here without its start-up lines (`import albert_tf.models` in a notebook included).
import_quietly()

from albert_tf.layers.choice_rows import ChoiceRows
from albert_tf.layers.classification_head import ClassificationHead
from albert_tf.layers.embedding import AlbertEmbedding
from albert_tf.layers.feed_forward import FeedForwardSublayer
from albert_tf.layers.masked_lm_head import MaskedLMHead
from albert_tf.layers.self_attention import SelfAttentionSublayer
from albert_tf.layers.transformer_block import TransformerBlock

__all__ = [
    "AlbertEmbedding",
    "ChoiceRows",
    "ClassificationHead",
    "FeedForwardSublayer",
    "MaskedLMHead",
    "SelfAttentionSublayer",
    "TransformerBlock",
]
