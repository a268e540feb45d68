"""Reading text files line by line the same way in every tool (SentencePiece training,
pretraining data): any line ending (`\\n`, `\\r\\n` or a lone `\\r`), and one policy for
bytes that are not UTF-8: the line is skipped and counted, and the first few are named
by file and line in the log.

Example:

>>> import tempfile
>>> path = tempfile.mkstemp()[1]
>>> _ = open(path, "wb").write(b"one\\rtwo\\r\\nbad \\xff\\nthree")
>>> skipped = []
>>> list(read_lines(path, skipped.append))
[(1, 'one'), (2, 'two'), (4, 'three')]
>>> skipped
[3]
"""

from typing import Callable, Iterator, Tuple

from absl import logging

# How many offending lines are named in the log per file before only counting.
LOGGED_PROBLEMS_PER_FILE = 5


def read_lines(path: str, on_invalid: Callable[[int], None]) -> Iterator[Tuple[int, str]]:
    """Yields (line number, text without its line ending) for every line of `path` that
    decodes as UTF-8; calls `on_invalid(line number)` for each that does not."""
    invalid = 0
    number = 0
    with open(path, "rb") as handle:
        for raw in handle:  # splits at \n; a lone \r ends a line too
            if raw.endswith(b"\r\n"):
                raw = raw[:-2]
            elif raw.endswith(b"\n"):
                raw = raw[:-1]
            for piece in raw.split(b"\r"):
                number += 1
                try:
                    line = piece.decode("utf-8")
                except UnicodeDecodeError as error:
                    invalid += 1
                    if invalid <= LOGGED_PROBLEMS_PER_FILE:
                        logging.warning("%s:%d: skipping a line that is not UTF-8 (%s)", path,
                                        number, error.reason)
                    on_invalid(number)
                    continue
                yield number, line
    if invalid > LOGGED_PROBLEMS_PER_FILE:
        logging.warning("%s: %d lines in all were not UTF-8 and were skipped", path, invalid)
