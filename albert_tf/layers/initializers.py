"""Weight initializer shared by every ALBERT layer."""

import keras


def truncated_normal(stddev: float) -> keras.initializers.Initializer:
    """The original's `create_initializer`: truncated normal with the config's range."""
    return keras.initializers.TruncatedNormal(stddev=stddev)
