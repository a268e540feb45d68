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


class Stopped(AlbertTfError):
    """A run stopped on a signal (Ctrl-C, SIGTERM) after saving what it reached; the
    message says where that is and how to go on. The entry scripts print it in one line
    and exit with status 130 (not an input error, so they catch it first)."""
