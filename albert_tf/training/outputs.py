"""Result files of a run (evaluations, predictions), each written whole or not at all."""

import json
from typing import Iterable, Sequence

from albert_tf.io_utils import write_atomically


def write_json(path: str, value) -> None:
    """`value` as indented JSON."""
    write_atomically(path, (json.dumps(value, indent=2) + "\n").encode())


def write_tsv(path: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """A tab-separated file with a header line; returns the number of rows."""
    lines = ["\t".join(header)] + ["\t".join(str(value) for value in row) for row in rows]
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return len(lines) - 1
