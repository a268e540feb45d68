"""Input file patterns as the original scripts take them: comma-separated globs."""

import glob
from typing import List

from albert_tf.errors import AlbertTfError


class InputFileError(AlbertTfError, ValueError):
    """A file pattern that names no readable file; the message names the pattern."""


def expand_file_patterns(patterns: str, flag_name: str = "input_file") -> List[str]:
    """Expands `a/*.txt,b.txt` into a sorted, de-duplicated list of existing files.

    Every comma-separated pattern must match at least one file, so a typo in one of
    several patterns is reported instead of silently training on less data. Patterns
    with a scheme (`gs://bucket/data/*`, what TPU pod workers read) go through
    `tf.io.gfile.glob`.

    Example:

    >>> expand_file_patterns("/nonexistent/*.txt")
    Traceback (most recent call last):
    ...
    albert_tf.data.files.InputFileError: --input_file: pattern '/nonexistent/*.txt' matches no file
    """
    parts = [part.strip() for part in (patterns or "").split(",") if part.strip()]
    if not parts:
        raise InputFileError(f"--{flag_name}: no input file given")
    files = []
    for part in parts:
        matches = sorted(_remote_glob(part) if "://" in part else glob.glob(part))
        if not matches:
            raise InputFileError(f"--{flag_name}: pattern {part!r} matches no file")
        files.extend(matches)
    return sorted(dict.fromkeys(files))


def _remote_glob(pattern: str) -> List[str]:
    import tensorflow as tf

    try:
        return tf.io.gfile.glob(pattern)
    except tf.errors.OpError:  # unknown scheme or unreachable bucket: reported as no match
        return []
