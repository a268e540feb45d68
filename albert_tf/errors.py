"""The one base class of albert-tf's errors about input, settings and files.

Every domain error (a bad config, data file, checkpoint, flag value...) derives from
`AlbertTfError`, and from the built-in class it used to be (`ValueError` or
`RuntimeError`), so the entry scripts catch this one class and print its message, while
callers that caught the built-in class keep working.

>>> from albert_tf.config import ConfigError
>>> issubclass(ConfigError, AlbertTfError) and issubclass(ConfigError, ValueError)
True
"""


class AlbertTfError(Exception):
    """An error whose message names the file, line, setting or value at fault."""
