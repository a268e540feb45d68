"""Common input handling and serialization for the functional ALBERT models."""

from typing import Any, Dict, Union

import keras

from albert_tf.config import AlbertConfig
from albert_tf.data.features import ENCODER_FEATURES


def as_albert_config(config: Union[AlbertConfig, Dict[str, Any]]) -> AlbertConfig:
    if isinstance(config, AlbertConfig):
        return config
    if isinstance(config, dict):
        return AlbertConfig.from_dict(config)
    raise TypeError(f"expected an AlbertConfig or a dict, got {type(config).__name__}")


def encoder_inputs() -> Dict[str, keras.KerasTensor]:
    """Symbolic int32 inputs [batch, seq] named as the original TFRecord features."""
    return {
        name: keras.Input(shape=(None,), dtype="int32", name=name) for name in ENCODER_FEATURES
    }


class NamedFeaturesModel(keras.Model):
    """A functional model whose dict inputs are picked by name, so a batch that also
    carries labels (or other features) is read correctly."""

    def _set_feature_names(self, inputs: Dict[str, Any]):
        self.feature_names = tuple(inputs)

    def call(self, inputs, training=None, mask=None):
        # Keras matches dict inputs by position, not name, once the keys differ: select
        # the features by name. (A missing feature is reported by Keras's input check
        # before this runs.)
        if isinstance(inputs, dict):
            inputs = {name: inputs[name] for name in self.feature_names}
        return super().call(inputs, training=training, mask=mask)


def serialize_dtype(dtype):
    if dtype is not None and not isinstance(dtype, str):
        return keras.dtype_policies.serialize(dtype)
    return dtype


def deserialize_dtype(dtype):
    return keras.dtype_policies.deserialize(dtype) if isinstance(dtype, dict) else dtype


class AlbertConfiguredModel(NamedFeaturesModel):
    """A functional model fully described by an `AlbertConfig` (the encoder).

    `get_config`/`from_config` round-trip through the original-format config dict, which
    is what `.keras` files store.
    """

    def _finish_init(self, config: AlbertConfig, dtype, inputs: Dict[str, Any]):
        self.albert_config = config
        self._dtype_argument = dtype
        self._set_feature_names(inputs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "config": self.albert_config.to_dict(),
                "dtype": serialize_dtype(self._dtype_argument)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["config"] = AlbertConfig.from_dict(config["config"])
        config["dtype"] = deserialize_dtype(config.get("dtype"))
        return cls(**config)


class EncoderTaskModel(NamedFeaturesModel):
    """A task model (heads) on top of an encoder *instance*, as keras-hub's tasks take a
    `backbone` and Model Garden's models an `encoder_network`: the same encoder object can
    serve a pretrainer and a classifier, so their weights move with it.

    Subclasses build their graph in `__init__` and list their extra constructor arguments
    in `extra_config()`; the encoder is serialized inside the config.
    """

    def _finish_init(self, dtype, inputs: Dict[str, Any]):
        self._dtype_argument = dtype
        self._set_feature_names(inputs)

    @property
    def albert_config(self) -> AlbertConfig:
        return self.encoder.albert_config

    def extra_config(self) -> Dict[str, Any]:
        return {}

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "dtype": serialize_dtype(self._dtype_argument), **self.extra_config()}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "encoder" in config:
            config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        else:  # .keras files written before task models took an encoder instance
            config["encoder"] = AlbertConfig.from_dict(config.pop("config"))
        config["dtype"] = deserialize_dtype(config.get("dtype"))
        return cls(**config)
