"""Shard sets: how create_pretraining_data names its shards and manifest, and the check
every reader runs so that an incomplete or mixed set is never trained on.

A set is `NAME-00000-of-0000N` .. `NAME-<N-1>-of-0000N` (or one file, NAME) plus the
manifest `manifest_path(NAME)`, written last. The writer removes the old manifest before it
touches any shard, so a run killed half-way leaves a set without a manifest, which the
reader tells apart from a complete one by its `-of-N` names.

Example:

>>> shard_name("data/train.tfrecord", 3, 8)
'data/train.tfrecord-00003-of-00008'
>>> manifest_path("data/train.tfrecord")
'data/train.manifest.json'
"""

import collections
import glob
import json
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

from albert_tf.errors import AlbertTfError

SHARD_NAME = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})$")
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_TOOL = "albert_tf create_pretraining_data"


class ShardSetError(AlbertTfError, ValueError):
    """An incomplete, mixed or changed shard set; the message names the files."""


def shard_name(name: str, index: int, count: int) -> str:
    return f"{name}-{index:05d}-of-{count:05d}"


def manifest_path(output_file: str) -> str:
    """`<folder>/<name without its extension>.manifest.json`: a name that the usual input
    globs (`train.tfrecord-*`, `train.tfrecord*`) do not match."""
    first = output_file.split(",")[0].strip()
    folder, base = os.path.split(first)
    stem = os.path.splitext(base)[0] if "." in base.lstrip(".") else base
    return os.path.join(folder, stem + MANIFEST_SUFFIX)


def read_manifest(path: str) -> Optional[Dict]:
    """The manifest's contents, or None when there is none (or it is not ours)."""
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("tool") != MANIFEST_TOOL:
        return None
    return manifest


def existing_set_files(output_file: str) -> List[str]:
    """Files of an earlier run under this output name: its manifest's list, any
    `NAME-?????-of-?????` shards and NAME itself."""
    names = [name.strip() for name in output_file.split(",") if name.strip()]
    manifest = read_manifest(manifest_path(output_file)) or {}
    files = set(manifest.get("output_files", []))
    if len(names) == 1:
        files.update(glob.glob(glob.escape(names[0]) + "-[0-9][0-9][0-9][0-9][0-9]-of-"
                               "[0-9][0-9][0-9][0-9][0-9]"))
    files.update(names)
    return sorted(path for path in files if os.path.isfile(path))


def check_shard_sets(files: Sequence[str], flag: str = "input_file") -> None:
    """Raises ShardSetError when a `-of-N` shard among `files` belongs to a set whose
    members are not all on disk, when one name has shards of several set sizes beside it
    (an old set left next to a new one), when a manifest is among the inputs, or when the
    manifest beside a set lists other files or sizes."""
    for path in files:
        if path.endswith(MANIFEST_SUFFIX):
            raise ShardSetError(f"--{flag}: {path} is a create_pretraining_data manifest, "
                                "not records; narrow the pattern (e.g. 'data/train.tfrecord-*')")
    sets: Dict[Tuple[str, int], List[int]] = collections.defaultdict(list)
    for path in files:
        match = SHARD_NAME.match(path)
        if match and "://" not in path:
            sets[(match["prefix"], int(match["count"]))].append(int(match["index"]))
    for (prefix, count), _ in sorted(sets.items()):
        on_disk = glob.glob(glob.escape(prefix) + "-[0-9][0-9][0-9][0-9][0-9]-of-"
                            "[0-9][0-9][0-9][0-9][0-9]")
        counts = sorted({int(SHARD_NAME.match(path)["count"]) for path in on_disk})
        if counts != [count]:
            raise ShardSetError(
                f"--{flag}: {prefix}-*-of-* holds shard sets of {counts} files side by side "
                "(an earlier run's shards left beside a newer set?); remove the stale ones "
                "or rerun create_pretraining_data")
        missing = [shard_name(prefix, k, count) for k in range(count)
                   if not os.path.isfile(shard_name(prefix, k, count))]
        if missing:
            raise ShardSetError(
                f"--{flag}: the shard set {prefix}-*-of-{count:05d} is incomplete: "
                f"{len(missing)} of {count} missing ({', '.join(missing[:3])}"
                f"{' ...' if len(missing) > 3 else ''}); was create_pretraining_data "
                "interrupted? Rerun it")
        _check_manifest(prefix, [shard_name(prefix, k, count) for k in range(count)], flag)


def _check_manifest(prefix: str, shards: List[str], flag: str) -> None:
    path = manifest_path(prefix)
    manifest = read_manifest(path)
    if manifest is None:
        return  # another tool's shards, or a set whose manifest was not yet written
    # Compared by base name: the manifest may have been written from another directory.
    listed = [os.path.basename(name) for name in manifest.get("output_files", [])]
    if sorted(listed) != sorted(os.path.basename(name) for name in shards):
        raise ShardSetError(f"--{flag}: {path} lists {len(listed)} shards but "
                            f"{len(shards)} are on disk; rerun create_pretraining_data")
    folder = os.path.dirname(prefix)
    for base, size in zip(listed, manifest.get("shard_bytes", [])):
        name = os.path.join(folder, base)
        if os.path.getsize(name) != size:
            raise ShardSetError(f"--{flag}: {name} has {os.path.getsize(name)} bytes but "
                                f"{path} recorded {size}: the file changed since it was "
                                "written")
