"""Input file patterns as the original scripts take them: comma-separated globs."""

import glob
import hashlib
import os
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


# Training sets up to this size are hashed whole; beyond it (pretraining shards of many
# GB) each file's size and its first and last SAMPLE_BYTES are, so a resume starts in
# seconds and still tells rewritten records from the old ones.
FULL_HASH_BYTES = 2 << 30
SAMPLE_BYTES = 16 << 20


def content_fingerprint(paths: List[str]) -> str:
    """A sha256 of the files' names (without their folders, so a moved data set keeps
    its fingerprint), sizes and content (sampled past FULL_HASH_BYTES in all).

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name, text in (("a.txt", "one"), ("b.txt", "two")):
    ...     _ = open(os.path.join(folder, name), "w").write(text)
    >>> first = content_fingerprint([os.path.join(folder, "a.txt"), os.path.join(folder, "b.txt")])
    >>> _ = open(os.path.join(folder, "b.txt"), "w").write("TWO")
    >>> first == content_fingerprint([os.path.join(folder, n) for n in ("a.txt", "b.txt")])
    False
    """
    remote = [path for path in paths if "://" in path]
    if remote:
        import tensorflow as tf  # gs:// and other schemes
    sizes = {path: tf.io.gfile.stat(path).length if path in remote else os.path.getsize(path)
             for path in paths}
    sampled = sum(sizes.values()) > FULL_HASH_BYTES
    digest = hashlib.sha256(b"sampled" if sampled else b"whole")
    for path in sorted(paths, key=os.path.basename):
        size = sizes[path]
        digest.update(f"{os.path.basename(path)}\0{size}\0".encode())
        with (tf.io.gfile.GFile(path, "rb") if path in remote else open(path, "rb")) as handle:
            if not sampled or size <= 2 * SAMPLE_BYTES:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            else:
                digest.update(handle.read(SAMPLE_BYTES))
                handle.seek(size - SAMPLE_BYTES)
                digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()
