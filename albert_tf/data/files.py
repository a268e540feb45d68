"""Input file patterns as the original scripts take them: comma-separated globs."""

import glob
from typing import List


class InputFileError(ValueError):
    """A file pattern that names no readable file; the message names the pattern."""


def expand_file_patterns(patterns: str, flag_name: str = "input_file") -> List[str]:
    """Expands `a/*.txt,b.txt` into a sorted, de-duplicated list of existing files.

    Every comma-separated pattern must match at least one file, so a typo in one of
    several patterns is reported instead of silently training on less data.

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
        matches = sorted(glob.glob(part))
        if not matches:
            raise InputFileError(f"--{flag_name}: pattern {part!r} matches no file")
        files.extend(matches)
    return sorted(dict.fromkeys(files))
