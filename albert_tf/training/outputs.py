"""Result files of a run (evaluations, predictions), each written whole or not at all,
and evaluation scalars for TensorBoard."""

import json
import numbers
from typing import Iterable, Mapping, Sequence

from albert_tf.io_utils import write_atomically


def write_json(path: str, value) -> None:
    """`value` as indented JSON."""
    write_atomically(path, (json.dumps(value, indent=2) + "\n").encode())


def write_tsv(path: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """A tab-separated file with a header line; returns the number of rows."""
    lines = ["\t".join(header)] + ["\t".join(str(value) for value in row) for row in rows]
    write_atomically(path, ("\n".join(lines) + "\n").encode())
    return len(lines) - 1


def write_json_lines(path: str, rows: Iterable[Mapping[str, object]]) -> int:
    """One JSON object per line (UTF-8, non-ASCII kept); returns the number of rows."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    write_atomically(path, "".join(line + "\n" for line in lines).encode("utf-8"))
    return len(lines)


def write_eval_summaries(logdir: str, step: int, metrics: Mapping[str, object]) -> None:
    """The numeric `metrics` of an evaluation at `step` as TensorBoard scalars in `logdir`
    (beside train/, so `tensorboard --logdir <run>` shows both)."""
    import tensorflow as tf

    with tf.summary.create_file_writer(logdir).as_default(step=step):
        for name, value in metrics.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                tf.summary.scalar(name, float(value))
    tf.summary.flush()
