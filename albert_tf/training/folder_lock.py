"""One writer per run folder: an exclusive `fcntl.flock` on `<output_dir>/.lock`.

The operating system releases the lock when its process ends, however it ends (kill -9
included), so a crashed run never leaves a stale lock; the file itself stays (removing it
would let a process that opened it before the removal lock a file nobody else sees). A
second process on the same folder is refused at once, naming the folder and the holder's
pid (from /proc/locks: the file stays empty, so a refused run changes no byte in the
folder).

It holds on one machine's local file systems. On network file systems it holds where
they implement POSIX locks across machines (NFSv4, most cluster file systems); elsewhere
two machines could each take it, so do not point two machines' runs at one folder
(multi-worker training is one run: only the chief takes the lock and writes). Buckets
(`gs://...`) are not locked.

Example:

>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with FolderLock(folder):
...     FolderLock(folder).acquire()
Traceback (most recent call last):
...
albert_tf.training.folder_lock.FolderInUseError: --output_dir ... is in use by another process (pid ...); ...
"""

import errno
import fcntl
import os
from typing import Optional

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.errors import AlbertTfError


class FolderInUseError(AlbertTfError, RuntimeError):
    """Another process holds the run folder's lock."""


def _holder(handle: int) -> str:
    """The pid holding a flock on the file open as `handle`, from /proc/locks (Linux)."""
    status = os.fstat(handle)
    inode = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:  # "1: FLOCK ADVISORY WRITE <pid> <dev>:<inode> 0 EOF"
                fields = line.split()
                if "FLOCK" in fields and "->" not in fields and fields[-3] == inode:
                    return fields[-4]
    except OSError:
        pass
    return "unknown"


class FolderLock:
    """The exclusive lock of the run folder `output_dir`, created if it does not exist.
    A run that fails removes the lock file it created (and the folder it created, when
    nothing else is in it).

    Args:
        output_dir: The run folder.
    """

    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.path = RunLayout(output_dir).lock_file
        self._handle: Optional[int] = None
        self._created = self._created_file = False

    def acquire(self) -> "FolderLock":
        if "://" in self.output_dir:
            return self
        self._created = not os.path.isdir(self.output_dir)
        os.makedirs(self.output_dir, exist_ok=True)
        self._created_file = not os.path.exists(self.path)
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _holder(handle)
            os.close(handle)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise FolderInUseError(
                f"--output_dir {self.output_dir} is in use by another process (pid "
                f"{holder}); two runs writing one folder would overwrite each other's "
                "checkpoints. Wait for it to end, stop it, or use another --output_dir"
            ) from None
        self._handle = handle
        return self

    def release(self, failed: bool = False) -> None:
        if self._handle is None:
            return
        if failed and self._created_file:
            # A refused run leaves the folder as it found it (or no folder). Removed while
            # still held: a process that opened the file just before can only lock the
            # removed file after this one lets go, a window of microseconds.
            os.remove(self.path)
            if self._created and not os.listdir(self.output_dir):
                os.rmdir(self.output_dir)
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        os.close(self._handle)
        self._handle = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, exc_type, *exc_info) -> None:
        self.release(failed=exc_type is not None)
