"""Question-answering features on disk: a TFRecord of the model inputs (and, for training,
the answer positions) plus a JSON-lines file of what post-processing needs for each
window (the original's `predict_feature_left_file`, there a pickle), and the tf.data input.

A cache is reused only when its sidecar says it was built from the same file (path, size,
modification time), tokenizer and settings.

Example:

>>> sorted(qa_record_schema(384, is_training=True))
['end_positions', 'input_ids', 'input_mask', 'segment_ids', 'start_positions']
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.data.example_encoding import ExampleEncoder
from albert_tf.data.features import (ENCODER_FEATURES, IS_IMPOSSIBLE, P_MASK, QA_POSITIONS,
                                     parse_spec, qa_record_schema)
from albert_tf.data.record_batches import parsed_batches
from albert_tf.data.squad import FeatureStatistics, QAFeature, convert_examples
from albert_tf.io_utils import atomic_path, write_atomically

_CACHE_FORMAT = 2  # records with p_mask and is_impossible
# What post-processing needs of each window, besides its logits.
_LEFT_FIELDS = ("example_index", "window_index", "p_mask", "token_starts", "token_ends",
                "max_context")


def write_feature_records(features: Sequence[QAFeature], path: str, is_training: bool) -> None:
    """The model inputs, `p_mask`, and when training the answer positions and
    `is_impossible`, as a TFRecord file."""
    arrays = {name: np.asarray([getattr(f, name) for f in features], np.int64)
              for name in ENCODER_FEATURES + (P_MASK,)}
    if is_training:
        start, end = QA_POSITIONS
        arrays[start] = np.asarray([[f.start_position] for f in features])
        arrays[end] = np.asarray([[f.end_position] for f in features])
        arrays[IS_IMPOSSIBLE] = np.asarray([[int(f.is_impossible)] for f in features])
    with atomic_path(path) as temp_path, tf.io.TFRecordWriter(temp_path) as writer:
        for record in ExampleEncoder().encode_batch(arrays, {}):
            writer.write(record)


def write_feature_left(features: Sequence[QAFeature], path: str) -> None:
    """Each window's bookkeeping for post-processing, one JSON object per line."""
    lines = [json.dumps({name: getattr(f, name) for name in _LEFT_FIELDS}) for f in features]
    write_atomically(path, "".join(line + "\n" for line in lines).encode())


def read_feature_left(path: str) -> List[QAFeature]:
    """The windows written by `write_feature_left` (without their input ids)."""
    features = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            values = json.loads(line)
            features.append(QAFeature(input_ids=[], input_mask=[], segment_ids=[], **values))
    return features


def cached_features(examples, source: str, tokenizer, record_path: str, left_path: str,
                    max_seq_length: int, doc_stride: int, max_query_length: int,
                    is_training: bool) -> Tuple[List[QAFeature], Dict[str, int]]:
    """(windows for post-processing, statistics) of `examples`, writing `record_path` and
    `left_path` unless a cache built from the same inputs is there."""
    stat = os.stat(source)
    fingerprint = {"format": _CACHE_FORMAT, "source": os.path.abspath(source), "size": stat.st_size,
                   "mtime": stat.st_mtime, "tokenizer_sha256": tokenizer.model_sha256,
                   "lower_case": tokenizer.lower_case, "max_seq_length": max_seq_length,
                   "doc_stride": doc_stride, "max_query_length": max_query_length,
                   "is_training": is_training, "examples": len(examples)}
    sidecar = record_path + ".json"
    if all(os.path.exists(p) for p in (record_path, left_path, sidecar)):
        with open(sidecar, encoding="utf-8") as handle:
            recorded = json.load(handle)
        if recorded.get("fingerprint") == fingerprint:
            logging.info("using cached features %s", record_path)
            return read_feature_left(left_path), recorded["statistics"]
    stats = FeatureStatistics()
    features = convert_examples(examples, tokenizer, max_seq_length, doc_stride,
                                max_query_length, is_training, stats)
    write_feature_records(features, record_path, is_training)
    write_feature_left(features, left_path)
    statistics = vars(stats)
    write_atomically(sidecar, (json.dumps({"fingerprint": fingerprint,
                                           "statistics": statistics}, indent=2)
                               + "\n").encode())
    logging.info("%s: %d examples -> %d features in %s (%s)", source, len(examples),
                 len(features), record_path, statistics)
    return features, statistics


def qa_dataset(path: str, max_seq_length: int, batch_size: int, is_training: bool,
               input_context: Optional[tf.distribute.InputContext] = None,
               seed: Optional[int] = None, shuffle_buffer: int = 10000,
               answerability: bool = False) -> tf.data.Dataset:
    """Batches of int32 features (with the answer positions when training, and what the
    SQuAD v2.0 model reads with `answerability`); see `record_batches.parsed_batches`."""
    spec = parse_spec(qa_record_schema(max_seq_length, is_training, answerability),
                      scalars=QA_POSITIONS + (IS_IMPOSSIBLE,))
    return parsed_batches(path, spec, batch_size, is_training, input_context, seed,
                          shuffle_buffer)
