"""File writing that never leaves a half-written file behind."""

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temp file name beside `path`; the file is renamed to `path` when the block
    ends. For writers that open files by name (tf.io.TFRecordWriter).

    On an error (or a crash) `path` keeps its previous content or stays absent; the
    temp file is removed. The result gets the usual permissions (0666 less the umask).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(handle)
    try:
        yield temp_path
        os.chmod(temp_path, 0o666 & ~_umask())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """Yields a binary file beside `path` that is renamed to `path` when the block ends
    (see `atomic_path`).

    Example:

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out", "file.txt")
    >>> with atomic_output(target) as handle:
    ...     _ = handle.write(b"done")
    >>> open(target, "rb").read(), os.listdir(os.path.dirname(target))
    (b'done', ['file.txt'])
    """
    with atomic_path(path) as temp_path, open(temp_path, "wb") as temp:
        yield temp


def write_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` through `atomic_output`."""
    with atomic_output(path) as handle:
        handle.write(data)
