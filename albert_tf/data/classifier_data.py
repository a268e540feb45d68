"""Fine-tuning features: examples packed (`packing.py`) into a TFRecord cache, tf.data input.

Each split is encoded once into `<cache_dir>/<split>.tfrecord` with a JSON sidecar that
records what it was built from (task, labels, tokenizer model, casing, sequence length);
a later run reuses it only when all of those match.
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.data.example_encoding import ExampleEncoder
from albert_tf.data.features import (CLASSIFIER_LABEL, ENCODER_FEATURES,
                                     classifier_record_schema, parse_spec)
from albert_tf.data.glue import InputExample, TaskDataError, TaskSpec
from albert_tf.data.length_batches import length_summary
from albert_tf.data.packing import check_sequence_length, pack
from albert_tf.data.record_batches import parsed_batches
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.io_utils import atomic_path, write_atomically

ENCODE_BATCH = 1024
LENGTHS = "lengths"


def label_value(task: TaskSpec, example: InputExample):
    """The label id (classification), the score (regression), or -1 / 0.0 for test rows."""
    if task.is_regression:
        return 0.0 if example.label is None else float(example.label)
    return -1 if example.label is None else task.labels.index(example.label)


def encode_examples(examples: Sequence[InputExample], task: TaskSpec, tokenizer: Tokenizer,
                    max_seq_length: int) -> Dict[str, np.ndarray]:
    """Feature arrays [n, max_seq_length] plus `label_ids` [n] (int64 or float32)."""
    check_sequence_length(max_seq_length, None)
    columns: Dict[str, list] = {name: [] for name in ENCODER_FEATURES}
    for start in range(0, len(examples), ENCODE_BATCH):
        chunk = examples[start:start + ENCODE_BATCH]
        tokens_a = tokenizer.encode_batch([e.text_a for e in chunk])
        tokens_b = (tokenizer.encode_batch([e.text_b for e in chunk])
                    if chunk and chunk[0].text_b is not None else [None] * len(chunk))
        for a, b in zip(tokens_a, tokens_b):
            for name, values in zip(columns, pack(a, b, max_seq_length,
                                                  tokenizer.special_ids)):
                columns[name].append(values)
    features = {name: np.asarray(values, np.int64).reshape(-1, max_seq_length)
                for name, values in columns.items()}
    labels = [label_value(task, e) for e in examples]
    features[CLASSIFIER_LABEL] = np.asarray(labels,
                                            np.float32 if task.is_regression else np.int64)
    return features


def _fingerprint(task: TaskSpec, tokenizer: Tokenizer, max_seq_length: int,
                 source: str) -> Dict[str, object]:
    stat = os.stat(source)
    return {"task": task.name, "labels": list(task.labels or []),
            "source": os.path.abspath(source), "source_size": stat.st_size,
            "source_mtime": stat.st_mtime,
            "spm_model_sha256": tokenizer.model_sha256,
            "lower_case": tokenizer.lower_case, "max_seq_length": max_seq_length}


def cached_split(task: TaskSpec, split: str, data_dir: str, cache_dir: str,
                 tokenizer: Tokenizer, max_seq_length: int,
                 examples: Optional[List[InputExample]] = None
                 ) -> Tuple[str, List[InputExample]]:
    """(TFRecord path, examples) of one split, encoding it unless a matching cache
    exists; `examples` are the split's, when already read."""
    source = task.path(data_dir, split)
    if examples is None:
        examples = task.read(data_dir, split)
    if not examples:
        raise TaskDataError(f"{source}: no examples")
    path = os.path.join(cache_dir, f"{split}.tfrecord")
    sidecar = path + ".json"
    fingerprint = _fingerprint(task, tokenizer, max_seq_length, source)
    expected = {**fingerprint, "examples": len(examples)}
    if os.path.exists(path) and os.path.exists(sidecar):
        with open(sidecar, encoding="utf-8") as handle:
            recorded = json.load(handle)
        if ({key: recorded.get(key) for key in expected} == expected
                and LENGTHS in recorded):
            logging.info("using cached %s (%d examples)", path, len(examples))
            return path, examples
    features = encode_examples(examples, task, tokenizer, max_seq_length)
    labels = {CLASSIFIER_LABEL: features.pop(CLASSIFIER_LABEL)[:, None]}
    records = (ExampleEncoder().encode_batch(features, labels) if task.is_regression
               else ExampleEncoder().encode_batch({**features, **labels}, {}))
    with atomic_path(path) as temp_path, tf.io.TFRecordWriter(temp_path) as writer:
        for record in records:
            writer.write(record)
    lengths = length_summary(features["input_mask"])
    write_atomically(sidecar, (json.dumps({**expected, LENGTHS: lengths}, indent=2)
                               + "\n").encode())
    truncated = int(np.sum(features["input_mask"][:, -1]))
    logging.info("encoded %s: %d examples -> %s (mean length %.1f; %d filled all %d "
                 "positions, possibly truncated)", source, len(examples), path,
                 lengths["mean_length"], truncated, max_seq_length)
    return path, examples


def cached_lengths(path: str) -> Dict[str, float]:
    """The length summary (`mean_length`, `max_length`) `cached_split` recorded."""
    with open(path + ".json", encoding="utf-8") as handle:
        return json.load(handle)[LENGTHS]


def classifier_dataset(path: str, max_seq_length: int, batch_size: int, is_training: bool,
                       regression: bool, input_context: Optional[tf.distribute.InputContext]
                       = None, seed: Optional[int] = None, shuffle_buffer: int = 10000,
                       by_length: bool = False, pad_to_bucket: bool = False
                       ) -> tf.data.Dataset:
    """Batches of int32 features and `label_ids` (float32 for regression). Training data
    is sharded per input pipeline, shuffled, repeated, and drops the last partial batch;
    eval/predict data keeps every example, in file order unless `by_length` (then each
    batch holds examples of similar length, cut to its longest, with `example_index`;
    see `length_batches`)."""
    spec = parse_spec(classifier_record_schema(max_seq_length, regression),
                      scalars=(CLASSIFIER_LABEL,))
    return parsed_batches(path, spec, batch_size, is_training, input_context, seed,
                          shuffle_buffer, ENCODER_FEATURES if by_length else (),
                          pad_to_bucket)
