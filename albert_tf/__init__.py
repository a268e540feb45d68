"""albert-tf: ALBERT (A Lite BERT) in TensorFlow 2 / Keras 3."""

from albert_tf.config import AlbertConfig, ConfigError, PRESETS, SHARING_MODES

__all__ = ["AlbertConfig", "ConfigError", "PRESETS", "SHARING_MODES"]
__version__ = "0.1.0"
