"""Activation functions by the names the original ALBERT and Hugging Face configs use.

The original ALBERT `gelu` is the tanh approximation; Hugging Face calls that `gelu_new`
and uses `gelu` for the exact erf form. Configs of this project follow the original.
"""

import functools

# Listed here rather than derived from the functions so that reading a config (which
# checks `hidden_act`) needs no Keras: a serving client imports the config module.
ACTIVATION_NAMES = ("gelu", "gelu_new", "gelu_exact", "relu", "tanh", "swish", "silu",
                    "linear")


@functools.lru_cache(maxsize=None)
def _activations():
    import keras

    return {
        "gelu": functools.partial(keras.activations.gelu, approximate=True),
        "gelu_new": functools.partial(keras.activations.gelu, approximate=True),
        "gelu_exact": functools.partial(keras.activations.gelu, approximate=False),
        "relu": keras.activations.relu,
        "tanh": keras.activations.tanh,
        "swish": keras.activations.silu,
        "silu": keras.activations.silu,
        "linear": keras.activations.linear,
    }


def get_activation(name: str):
    """Returns the activation function registered under `name`.

    Example:

    >>> import numpy as np
    >>> float(get_activation("relu")(np.array(-1.0)))
    0.0
    """
    try:
        return _activations()[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {', '.join(ACTIVATION_NAMES)}"
        ) from None
