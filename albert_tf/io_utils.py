"""File writing that never leaves a half-written file behind."""

import contextlib
import hashlib
import os
import shutil
import socket
import tempfile
import uuid
from typing import BinaryIO, Iterator, List, Optional

from albert_tf.errors import AlbertTfError


def current_umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temp file name beside `path`; the file is renamed to `path` when the block
    ends. For writers that open files by name (tf.io.TFRecordWriter).

    On an error `path` keeps its previous content or stays absent and the temp file is
    removed; the temp file a killed process leaves is removed by the next write of `path`.
    The result gets the usual permissions (0666 less the umask).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    prefix = "." + os.path.basename(path) + "."
    remove_stale(directory, prefix)  # a killed writer's temp file of this target
    temp_path = os.path.join(directory, owned_temp_name(prefix) + ".tmp")
    open(temp_path, "xb").close()
    try:
        yield temp_path
        os.chmod(temp_path, 0o666 & ~current_umask())
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


def check_input_file(path: str, what: str, error: type) -> None:
    """Raises `error` unless `path` is a file: a folder is named as such (rather than
    "not found"). `what` describes the file expected.

    >>> import tempfile
    >>> check_input_file(tempfile.mkdtemp(), "vocabulary file", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: ...: is a directory; expected a vocabulary file
    """
    if os.path.isdir(path):
        raise error(f"{path}: is a directory; expected a {what}")
    if not os.path.isfile(path):
        raise error(f"{path}: {what} not found")


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_atomically(source: str, path: str) -> None:
    """Copies the file `source` to `path` through `atomic_path`."""
    with atomic_path(path) as temp_path:
        shutil.copyfile(source, temp_path)


class OutputLocationError(AlbertTfError, ValueError):
    """An output path that cannot be written; the message names the flag and the path."""


def check_writable(path: str, flag: str, is_dir: bool = True) -> None:
    """Raises OutputLocationError unless `path` (a folder, or a file when not `is_dir`) can
    be created or written: checked before any work, by creating and removing a probe file
    in the nearest existing folder (permission bits alone do not tell for root or for
    read-only mounts).

    >>> import tempfile
    >>> blocker = tempfile.mkstemp()[1]
    >>> check_writable(os.path.join(blocker, "out"), "output_dir")
    Traceback (most recent call last):
    ...
    albert_tf.io_utils.OutputLocationError: --output_dir ...: ... is a file, not a folder
    """
    if "://" in path:  # a bucket (gs://...): only writing there tells
        return
    path = os.path.abspath(path)
    if os.path.exists(path):
        if is_dir and not os.path.isdir(path):
            raise OutputLocationError(f"--{flag} {path}: exists and is a file, not a folder")
        if not is_dir and os.path.isdir(path):
            raise OutputLocationError(f"--{flag} {path}: is a folder, not a file")
    existing = path if is_dir and os.path.isdir(path) else os.path.dirname(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputLocationError(f"--{flag} {path}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-probe-")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise OutputLocationError(f"--{flag} {path}: cannot write in {existing} "
                                  f"({error.strerror})") from None


# A pid means something only on its own machine: on a shared file system a temp name
# written by another host is never taken for a dead process's.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def owned_temp_name(prefix: str, pid: Optional[int] = None) -> str:
    """`<prefix><pid>-<host>-<random>`: a temp name whose owner `remove_stale` can tell is
    gone (`pid` defaults to this process)."""
    return f"{prefix}{os.getpid() if pid is None else pid}-{_HOST}-{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def remove_stale(folder: str, prefix: str) -> List[str]:
    """Removes the files and folders `owned_temp_name(prefix)` named in `folder` whose
    process, on this host, has died (a killed run's leftovers); returns what it removed."""
    removed = []
    if not os.path.isdir(folder):
        return removed
    for name in os.listdir(folder):
        if not name.startswith(prefix):
            continue
        pid, host, *_ = name[len(prefix):].split("-") + ["", ""]
        if host != _HOST or not pid.isdigit() or _process_alive(int(pid)):
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(path)
        removed.append(path)
    return removed


def check_new_folder(path: str, flag: str) -> None:
    """`check_writable`, and `path` absent or empty (a folder a writer fills whole)."""
    check_writable(path, flag)
    if os.path.exists(path) and os.listdir(path):
        raise OutputLocationError(f"--{flag} {path}: already exists and is not empty")


@contextlib.contextmanager
def atomic_folder(output_dir: str, flag: str = "output_dir") -> Iterator[str]:
    """Yields a temp folder beside `output_dir` that becomes `output_dir` when the block
    ends; `output_dir` must be absent or empty (checked first). On an error nothing is
    left; a killed writer's temp folder is removed by the next write of `output_dir`.

    >>> import tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "model")
    >>> with atomic_folder(target) as folder:
    ...     _ = open(os.path.join(folder, "config.json"), "w").write("{}")
    >>> os.listdir(target)
    ['config.json']
    """
    check_new_folder(output_dir, flag)
    parent = os.path.dirname(os.path.abspath(output_dir))
    prefix = f".{os.path.basename(os.path.abspath(output_dir))}.tmp-"
    remove_stale(parent, prefix)
    temp_dir = os.path.join(parent, owned_temp_name(prefix))
    os.makedirs(temp_dir)
    try:
        yield temp_dir
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)  # empty (checked above)
        os.rename(temp_dir, output_dir)
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
