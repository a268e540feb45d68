"""Multiple-choice inputs as rows: [batch, choices, seq] -> [batch * choices, seq]."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="albert_tf")
class ChoiceRows(keras.layers.Layer):
    """Each (question, choice) pair becomes one row of the encoder's batch, as the original
    run_race reshapes its inputs to `[batch * num_choices, max_seq_length]`.

    Example:

    >>> import numpy as np
    >>> tuple(ChoiceRows()(np.zeros((2, 4, 7), "int32")).shape)
    (8, 7)
    """

    def call(self, inputs):
        # inputs: [batch, choices, seq] -> [batch * choices, seq]
        return ops.reshape(inputs, (-1, ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1])
