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

from typing import Callable, Iterator, Optional, Tuple

from absl import logging

# How many offending lines are named in the log per file before only counting.
LOGGED_PROBLEMS_PER_FILE = 5


def read_lines(path: str, on_invalid: Callable[[int], None],
               byte_range: Optional[Tuple[int, int]] = None) -> Iterator[Tuple[int, str]]:
    """Yields (line number, text without its line ending) for every line of `path` that
    decodes as UTF-8; calls `on_invalid(line number)` for each that does not.

    `byte_range` (begin, end) reads only the lines in it; `begin` must be 0 or follow a
    `\\n`. Line numbers stay those of the whole file.
    """
    begin, end = byte_range or (0, None)
    invalid = 0
    number = _lines_before(path, begin) if begin else 0
    position = begin
    with open(path, "rb") as handle:
        handle.seek(begin)
        for raw in handle:  # splits at \n; a lone \r ends a line too
            if end is not None and position >= end:
                break
            position += len(raw)
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
        logging.warning("%s: %d lines in %s were not UTF-8 and were skipped", path, invalid,
                        "all" if byte_range is None else f"bytes {begin}-{end}")


def _lines_before(path: str, offset: int) -> int:
    """Lines (as read_lines counts them) in the first `offset` bytes, which end with \\n."""
    lines = 0
    previous = b""
    with open(path, "rb") as handle:
        while handle.tell() < offset:
            chunk = handle.read(min(1 << 20, offset - handle.tell()))
            if not chunk:
                break
            lone_cr = chunk.count(b"\r") - chunk.count(b"\r\n")
            if previous == b"\r" and chunk.startswith(b"\n"):
                lone_cr -= 1  # a \r\n split between chunks
            lines += chunk.count(b"\n") + lone_cr
            previous = chunk[-1:]
    return lines
