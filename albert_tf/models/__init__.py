"""ALBERT networks and task models."""

from albert_tf.quiet_tensorflow import import_quietly

import_quietly()  # as albert_tf.layers does: TensorFlow without its start-up lines


from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.encoder import AlbertEncoder, build_transformer_schedule
from albert_tf.models.multiple_choice import AlbertMultipleChoice
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.models.losses import (classification_losses, pretraining_losses,
                                     regression_losses, span_losses)
from albert_tf.models.question_answering import AlbertQuestionAnswering

__all__ = [
    "AlbertClassifier",
    "AlbertEncoder",
    "AlbertMultipleChoice",
    "AlbertPretrainer",
    "AlbertQuestionAnswering",
    "build_transformer_schedule",
    "classification_losses",
    "pretraining_losses",
    "regression_losses",
    "span_losses",
]
