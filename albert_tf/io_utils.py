"""File writing that never leaves a half-written file behind."""

import os
import tempfile


def write_atomically(path: str, data: bytes) -> None:
    """Writes `data` to a temp file beside `path`, then renames it into place.

    A crash mid-write leaves either the previous file or none, never a truncated one.

    Example:

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out", "file.txt")
    >>> write_atomically(target, b"done")
    >>> open(target, "rb").read(), os.listdir(os.path.dirname(target))
    (b'done', ['file.txt'])
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise
