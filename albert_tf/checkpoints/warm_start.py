"""Warm-starting model weights from a checkpoint, with a report of what was restored.

Matching follows the checkpoint's own object graph (the edge names TF wrote) from a chosen
root, so it finds a variable whatever path the writer reached it by. Values are read from
the checkpoint and assigned: optimizer slots, step counters and any object outside the
chosen root are never touched, which is what a warm start means.

Example:
    >>> import tempfile, os
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.models.encoder import AlbertEncoder
    >>> config = AlbertConfig.from_preset("tiny", vocab_size=50)
    >>> source, target = AlbertEncoder(config), AlbertEncoder(config)
    >>> prefix = tf.train.Checkpoint(encoder=source).write(
    ...     os.path.join(tempfile.mkdtemp(), "encoder"))
    >>> report = warm_start(prefix, target, [(("encoder",), target)])
    >>> len(report.restored) == len(target.weights), report.fresh
    (True, [])
"""

import dataclasses
from typing import Dict, List, Sequence, Tuple

import keras
import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import trackable_object_graph_pb2

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.errors import AlbertTfError

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# (edge names from the checkpoint's root, live object to load into)
Candidate = Tuple[Tuple[str, ...], keras.layers.Layer]
VARIABLE_TYPES = (tf.Variable, keras.Variable)


class CheckpointMismatchError(AlbertTfError, ValueError):
    """The checkpoint cannot be loaded into the model; the message names the variable."""


@dataclasses.dataclass
class RestoreReport:
    """What a warm start did. Names are Keras variable paths or checkpoint keys."""

    checkpoint: str
    root: str
    restored: List[str]
    fresh: List[str]
    unused: List[str]

    def summary(self) -> str:
        lines = [f"warm start from {self.checkpoint} (root '{self.root}'): "
                 f"{len(self.restored)} variables restored, {len(self.fresh)} start fresh, "
                 f"{len(self.unused)} checkpoint variables unused"]
        lines += [f"  fresh: {name}" for name in self.fresh]
        lines += [f"  unused: {name}" for name in self.unused]
        return "\n".join(lines)


def resolve_checkpoint(path: str, flag: str = "init_checkpoint") -> str:
    """A checkpoint prefix from a prefix, a checkpoint directory, or a run directory of
    this project (its `checkpoints/` first, then its `encoder/`, then its `best/`)."""
    if tf.io.gfile.exists(path + ".index"):
        return path
    if tf.io.gfile.isdir(path):
        layout = RunLayout(path)
        for folder in (path, layout.checkpoint_dir):
            latest = tf.train.latest_checkpoint(folder)
            if latest:
                return latest
        for prefix in (layout.encoder_prefix, layout.best_prefix):
            if tf.io.gfile.exists(prefix + ".index"):
                return prefix
    raise CheckpointMismatchError(
        f"--{flag}: no checkpoint at {path!r} (expected a prefix with a .index file, a "
        "checkpoint directory, or a run directory holding checkpoints/, encoder/ or best/)")


def _object_graph(reader) -> trackable_object_graph_pb2.TrackableObjectGraph:
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY))
    return graph


def _find_node(graph, edges: Sequence[str]):
    node_id = 0
    for name in edges:
        children = {child.local_name: child.node_id for child in graph.nodes[node_id].children}
        if name not in children:
            return None
        node_id = children[name]
    return node_id


def _checkpoint_values(graph, root_id: int) -> Dict[int, str]:
    """node id -> checkpoint key of every variable below root_id."""
    values, stack, seen = {}, [root_id], set()
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        for attribute in graph.nodes[node_id].attributes:
            if attribute.name == "VARIABLE_VALUE":
                values[node_id] = attribute.checkpoint_key
        stack.extend(child.node_id for child in graph.nodes[node_id].children)
    return values


def _match(graph, root_id: int, root: keras.layers.Layer) -> Dict[int, object]:
    """checkpoint node id -> live object, walking both graphs by edge name."""
    matches: Dict[int, object] = {}
    stack = [(root_id, root)]
    while stack:
        node_id, live = stack.pop()
        if node_id in matches:
            continue
        matches[node_id] = live
        children = tf.train.TrackableView(live).children(live)
        for child in graph.nodes[node_id].children:
            if child.local_name in children:
                stack.append((child.node_id, children[child.local_name]))
    return matches


def warm_start(checkpoint: str, model: keras.layers.Layer, candidates: Sequence[Candidate],
               flag: str = "init_checkpoint") -> RestoreReport:
    """Loads weights into `model` through the candidate root (a part of `model` and where
    the checkpoint keeps it) that matches the most variables; returns the report, whose
    `fresh` lists every weight of `model` left as initialized. A shape mismatch is an
    error naming the variable."""
    prefix = resolve_checkpoint(checkpoint, flag)
    try:
        return _warm_start(prefix, model, candidates, flag)
    except (tf.errors.OpError, IndexError) as error:  # IndexError: a truncated .data file
        reason = str(getattr(error, "message", error)).splitlines()[0][:300]
        raise CheckpointMismatchError(f"--{flag}: {prefix} is damaged or truncated "
                                      f"({reason})") from None


def _warm_start(prefix: str, model: keras.layers.Layer, candidates: Sequence[Candidate],
                flag: str) -> RestoreReport:
    reader = tf.train.load_checkpoint(prefix)
    graph = _object_graph(reader)
    best = None
    for edges, live_root in candidates:
        root_id = _find_node(graph, edges)
        if root_id is None:
            continue
        values = _checkpoint_values(graph, root_id)
        matches = _match(graph, root_id, live_root)
        pairs = [(values[node], matches[node]) for node in values
                 if node in matches and isinstance(matches[node], VARIABLE_TYPES)]
        if best is None or len(pairs) > len(best[1]):
            best = (edges, pairs, values)
    if best is None or not best[1]:
        roots = ", ".join("/".join(edges) for edges, _ in candidates)
        raise CheckpointMismatchError(
            f"--{flag}: {prefix} holds none of this model's variables (looked under: {roots})")
    edges, pairs, values = best
    shapes = reader.get_variable_to_shape_map()
    for key, variable in pairs:
        if tuple(shapes[key]) != tuple(variable.shape):
            raise CheckpointMismatchError(
                f"--{flag}: {key} in {prefix} has shape {shapes[key]} but the model's "
                f"{variable.path} has shape {tuple(variable.shape)}")
    for key, variable in pairs:
        variable.assign(reader.get_tensor(key))
    restored_ids = {id(variable) for _, variable in pairs}
    report = RestoreReport(
        checkpoint=prefix, root="/".join(edges),
        restored=sorted({variable.path for _, variable in pairs}),
        fresh=sorted(v.path for v in model.weights if id(v) not in restored_ids),
        unused=sorted(set(values.values()) - {key for key, _ in pairs}))
    logging.info("%s", report.summary())
    return report
