"""Common serialization for the functional ALBERT models."""

from typing import Any, Dict, Union

import keras

from albert_tf.config import AlbertConfig

ENCODER_INPUT_NAMES = ("input_ids", "input_mask", "segment_ids")


def as_albert_config(config: Union[AlbertConfig, Dict[str, Any]]) -> AlbertConfig:
    if isinstance(config, AlbertConfig):
        return config
    if isinstance(config, dict):
        return AlbertConfig.from_dict(config)
    raise TypeError(f"expected an AlbertConfig or a dict, got {type(config).__name__}")


def encoder_inputs() -> Dict[str, keras.KerasTensor]:
    """Symbolic int32 inputs [batch, seq] named as the original TFRecord features."""
    return {
        name: keras.Input(shape=(None,), dtype="int32", name=name) for name in ENCODER_INPUT_NAMES
    }


class AlbertConfiguredModel(keras.Model):
    """A functional model fully described by an `AlbertConfig` plus a few extra values.

    Subclasses build their graph in `__init__` from `config` and list their extra
    constructor arguments in `extra_config()`; `get_config`/`from_config` then round-trip
    through the original-format config dict, which is what `.keras` files store.
    """

    def _finish_init(self, config: AlbertConfig, dtype, inputs: Dict[str, Any]):
        self.albert_config = config
        self._dtype_argument = dtype
        self.feature_names = tuple(inputs)

    def call(self, inputs, training=None, mask=None):
        # Keras matches dict inputs by position, not name, once the keys differ: select
        # the features by name so a batch that also carries labels is read correctly.
        # (A missing feature is reported by Keras's input check before this runs.)
        if isinstance(inputs, dict):
            inputs = {name: inputs[name] for name in self.feature_names}
        return super().call(inputs, training=training, mask=mask)

    def extra_config(self) -> Dict[str, Any]:
        return {}

    def get_config(self):
        dtype = self._dtype_argument
        if dtype is not None and not isinstance(dtype, str):
            dtype = keras.dtype_policies.serialize(dtype)
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.albert_config.to_dict(),
            "dtype": dtype,
            **self.extra_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["config"] = AlbertConfig.from_dict(config["config"])
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
