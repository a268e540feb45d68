"""The tf.data input pipeline for pretraining records (ours or the original tool's).

Files are sharded per input pipeline (`tf.distribute.InputContext`), read with a parallel
interleave, shuffled, repeated and batched (remainder dropped for training), then
prefetched. The first record is checked against the requested sequence length and
prediction count, so a mismatch is an error naming the file and feature instead of a
reshape failure deep inside a training step.

With `DynamicMasking`, records written unmasked (create_pretraining_data
--dynamic_masking) get fresh n-gram masks every time they are read, by the same
`mask_tokens` code the writer uses, seeded so a run is reproducible.
"""

import dataclasses
import os
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from albert_tf.data.features import (MASKED_LM_FEATURES, SENTENCE_ORDER_LABEL, TOKEN_BOUNDARY,
                                     parse_spec, pretraining_record_schema)
from albert_tf.data.masking import mask_tokens
from albert_tf.data.sentencepiece_tokenizer import ALBERT_SPECIAL_IDS, SpecialIds
from albert_tf.data.shards import (SHARD_NAME, ShardSetError, check_shard_sets, manifest_path,
                                   read_manifest)
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import file_sha256


class PretrainingRecordError(AlbertTfError, ValueError):
    """The records do not match what the pipeline was asked for; names file and feature."""


@dataclasses.dataclass(frozen=True)
class DynamicMasking:
    """Masking applied in the pipeline (the create_pretraining_data flags of that name)."""

    vocab_size: int
    masked_lm_prob: float = 0.15
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True
    seed: int = 12345
    special_ids: SpecialIds = ALBERT_SPECIAL_IDS  # the tokenizer's [CLS]/[SEP]/[MASK]...


def _first_record(path: str) -> tf.train.Example:
    try:
        first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.OpError as error:
        raise PretrainingRecordError(f"{path}: not a readable TFRecord file ({error.message})")
    if first is None:
        raise PretrainingRecordError(f"{path}: holds no record (an empty or unfinished "
                                     "file?)")
    try:
        return tf.train.Example.FromString(first.numpy())
    except Exception as error:  # protobuf raises its own DecodeError type
        raise PretrainingRecordError(f"{path}: first record is not a tf.train.Example ({error})")


def _lengths(example: tf.train.Example) -> Dict[str, int]:
    lengths = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        lengths[name] = len(getattr(feature, kind).value) if kind else 0
    return lengths


def check_records(path: str, max_seq_length: int, max_predictions_per_seq: int,
                  dynamic_masking: bool, vocab_size: Optional[int] = None) -> None:
    """Raises PretrainingRecordError unless the first record of `path` has the features
    and lengths this pipeline will parse (and, given `vocab_size`, ids below it)."""
    example = _first_record(path)
    lengths = _lengths(example)
    masked = MASKED_LM_FEATURES[0] in lengths
    if dynamic_masking and masked:
        raise PretrainingRecordError(
            f"{path}: records are already masked; dynamic masking needs records written "
            "with create_pretraining_data --dynamic_masking")
    if not dynamic_masking and not masked:
        raise PretrainingRecordError(
            f"{path}: records carry no masked_lm_* features (written with "
            "--dynamic_masking?); enable dynamic masking to read them")
    schema = pretraining_record_schema(max_seq_length, max_predictions_per_seq,
                                       dynamic_masking)
    for name, feature in schema.items():
        if name not in lengths:
            raise PretrainingRecordError(f"{path}: records have no feature {name!r} "
                                         f"(found {sorted(lengths)})")
        if lengths[name] != feature.length:
            raise PretrainingRecordError(
                f"{path}: feature {name!r} has length {lengths[name]} but {feature.length} "
                f"was asked for (--{feature.sets or 'max_seq_length'}); records and flags "
                "must agree")
    if vocab_size is not None:
        for name in ("input_ids", "masked_lm_ids"):
            if name in lengths:
                largest = max(example.features.feature[name].int64_list.value, default=0)
                if largest >= vocab_size:
                    raise PretrainingRecordError(
                        f"{path}: {name} holds id {largest}, beyond the config's vocab_size "
                        f"{vocab_size}: records of a larger SentencePiece model?")


def check_input_files(files: Sequence[str], max_seq_length: int, max_predictions_per_seq: int,
                      dynamic_masking: bool, flag: str = "input_file",
                      vocab_size: Optional[int] = None) -> None:
    """Checks, before a run writes anything, that the shard sets among `files` are complete
    (see shards.py) and that every file's first record has the features and lengths asked
    for (and ids below `vocab_size`); raises PretrainingRecordError naming the file."""
    try:
        check_shard_sets(files, flag)
    except ShardSetError as error:
        raise PretrainingRecordError(str(error)) from None
    for path in files:
        check_records(path, max_seq_length, max_predictions_per_seq, dynamic_masking,
                      vocab_size)


def count_records(files: Sequence[str]) -> Optional[int]:
    """Records in `files` as their create_pretraining_data manifests tell, or None when a
    file has no manifest or only part of a set is given (counting would mean reading
    everything)."""
    by_manifest: Dict[str, set] = {}
    for path in files:
        match = SHARD_NAME.match(path)
        by_manifest.setdefault(manifest_path(match["prefix"] if match else path),
                               set()).add(os.path.basename(path))
    total = 0
    for manifest_file, names in by_manifest.items():
        manifest = read_manifest(manifest_file) or {}
        if names != {os.path.basename(f) for f in manifest.get("output_files", [])}:
            return None
        total += int(manifest.get("statistics", {}).get("instances", 0))
    return total


def _recorded(files: Sequence[str], read) -> Optional[Dict[str, object]]:
    """`read(manifest)` (a tuple of (name, value) pairs) when every file's manifest gives
    the same, complete answer; else None."""
    found = set()
    for path in files:
        match = SHARD_NAME.match(path)
        manifest = read_manifest(manifest_path(match["prefix"] if match else path))
        if manifest is None:
            return None
        found.add(read(manifest))
    if len(found) != 1 or any(value is None for _, value in next(iter(found))):
        return None
    return dict(found.pop())


def recorded_lengths(files: Sequence[str]) -> Optional[Dict[str, int]]:
    """`max_seq_length` and `max_predictions_per_seq` as the files' create_pretraining_data
    manifests record them, or None when a file has no manifest or the manifests disagree."""
    names = ("max_seq_length", "max_predictions_per_seq")
    return _recorded(files, lambda manifest: tuple(
        (name, manifest.get("options", {}).get(name)) for name in names))


def recorded_tokenizer(files: Sequence[str]) -> Optional[Dict[str, object]]:
    """The tokenizer the records were made with, as their manifests say: `spm_model_file`
    (or `vocab_file`) and `do_lower_case`; None when they do not all say the same, or the
    file is gone or (manifests that record its sha256) is no longer that file."""
    def read(manifest):
        source = (("spm_model_file", manifest["spm_model_file"])
                  if manifest.get("spm_model_file")
                  else ("vocab_file", manifest.get("vocab_file")))
        return (source, ("do_lower_case", manifest.get("options", {}).get("do_lower_case")),
                ("tokenizer_sha256", manifest.get("tokenizer_sha256", "")))

    recorded = _recorded(files, read)
    if recorded is None:
        return None
    sha256 = recorded.pop("tokenizer_sha256")
    path = recorded.get("spm_model_file") or recorded.get("vocab_file")
    if not os.path.isfile(path):
        logging.warning("the records' tokenizer %s is gone: the run keeps no tokenizer "
                        "(exports and fine-tuning will ask for it)", path)
        return None
    if sha256 and file_sha256(path) != sha256:
        logging.warning("the records' tokenizer %s changed since they were written (sha256 "
                        "%s... recorded): the run keeps no tokenizer", path, sha256[:12])
        return None
    return recorded


def find_damaged_file(files: Sequence[str]) -> Optional[str]:
    """`file: record N` of the first record file that cannot be read to its end (what a
    DataLossError in the middle of training does not say), or None."""
    for path in files:
        records = 0
        try:
            for _ in tf.data.TFRecordDataset(path):
                records += 1
        except tf.errors.OpError as error:
            return f"{path}: record {records + 1} is damaged ({error.message.splitlines()[0]})"
    return None


def mask_batch(input_ids: np.ndarray, input_mask: np.ndarray, token_boundary: np.ndarray,
               seed: int, max_predictions_per_seq: int, masking: DynamicMasking):
    """Masks each row of an unmasked batch; returns (input_ids, masked_lm_positions,
    masked_lm_ids, masked_lm_weights), the last three padded to max_predictions_per_seq."""
    rng = np.random.default_rng([masking.seed, int(seed)])
    batch = input_ids.shape[0]
    output = input_ids.copy()
    positions = np.zeros((batch, max_predictions_per_seq), np.int64)
    labels = np.zeros((batch, max_predictions_per_seq), np.int64)
    weights = np.zeros((batch, max_predictions_per_seq), np.float32)
    for row in range(batch):
        length = int(input_mask[row].sum())
        masked = mask_tokens(input_ids[row, :length], rng, token_boundary[row, :length],
                             masking.vocab_size, masking.masked_lm_prob,
                             max_predictions_per_seq, masking.ngram,
                             masking.favor_shorter_ngram, masking.do_whole_word_mask,
                             masking.special_ids)
        count = len(masked.positions)
        output[row, :length] = masked.input_ids
        positions[row, :count] = masked.positions
        labels[row, :count] = masked.labels
        weights[row, :count] = 1.0
    return output, positions, labels, weights


def pretraining_dataset(
    input_files: Sequence[str],
    max_seq_length: int,
    max_predictions_per_seq: int,
    batch_size: int,
    is_training: bool = True,
    input_context: Optional[tf.distribute.InputContext] = None,
    shuffle_buffer: int = 10000,
    seed: Optional[int] = None,
    dynamic_masking: Optional[DynamicMasking] = None,
    drop_remainder: Optional[bool] = None,
) -> tf.data.Dataset:
    """Batches of pretraining features, int32 (weights float32).

    Args:
        input_files: TFRecord files.
        max_seq_length: Sequence length the records were written with.
        max_predictions_per_seq: Prediction slots the records were written with.
        batch_size: Global batch size; each input pipeline yields its per-replica share.
        is_training: Shuffle, repeat forever and drop the remainder; otherwise one ordered
            pass that keeps the last partial batch.
        input_context: From `distribute_datasets_from_function`; files are split between
            input pipelines.
        shuffle_buffer: Records in the shuffle buffer (training only).
        seed: Makes shuffling (and dynamic masks) reproducible.
        dynamic_masking: Mask unmasked records here (see module doc).
        drop_remainder: Drop the last partial batch (default: when training).

    Returns:
        A dataset of dicts with input_ids, input_mask, segment_ids, masked_lm_positions,
        masked_lm_ids, masked_lm_weights [batch, P] and next_sentence_labels [batch].

    Example:

    >>> import tempfile, os
    >>> from albert_tf.data.example_encoding import ExampleEncoder
    >>> path = os.path.join(tempfile.mkdtemp(), "x.tfrecord")
    >>> ids = np.array([[2, 9, 3, 8, 3, 0]] * 4)
    >>> records = ExampleEncoder().encode_batch(
    ...     {"input_ids": ids, "input_mask": (ids > 0) * 1, "segment_ids": ids * 0,
    ...      "masked_lm_positions": ids[:, :2], "masked_lm_ids": ids[:, :2],
    ...      "next_sentence_labels": ids[:, :1] * 0},
    ...     {"masked_lm_weights": np.ones((4, 2))})
    >>> with tf.io.TFRecordWriter(path) as writer:
    ...     for record in records: writer.write(record)
    >>> batch = next(iter(pretraining_dataset([path], 6, 2, batch_size=2)))
    >>> batch["input_ids"].shape, batch["next_sentence_labels"].shape
    (TensorShape([2, 6]), TensorShape([2]))
    """
    if not input_files:
        raise PretrainingRecordError("no input file given")
    check_records(input_files[0], max_seq_length, max_predictions_per_seq,
                  dynamic_masking is not None)
    per_pipeline_batch = batch_size
    files = tf.data.Dataset.from_tensor_slices(list(input_files))
    shard_records = False
    if input_context is not None:
        per_pipeline_batch = input_context.get_per_replica_batch_size(batch_size)
        if len(input_files) >= input_context.num_input_pipelines:
            files = files.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        else:
            logging.warning("%d input files for %d input pipelines: sharding by record, so "
                            "every pipeline reads every file; write more shards",
                            len(input_files), input_context.num_input_pipelines)
            shard_records = True
    if is_training:
        files = files.shuffle(len(input_files), seed=seed).repeat()
    deterministic = seed is not None or not is_training
    records = files.interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(input_files), 8),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if shard_records:
        records = records.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
    if is_training:
        records = records.shuffle(shuffle_buffer, seed=seed)
    records = records.batch(per_pipeline_batch, drop_remainder=is_training
                            if drop_remainder is None else drop_remainder)
    spec = parse_spec(pretraining_record_schema(max_seq_length, max_predictions_per_seq,
                                                dynamic_masking is not None))
    batches = records.map(lambda serialized: tf.io.parse_example(serialized, spec),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if dynamic_masking is not None:
        seeds = tf.data.Dataset.random(seed=dynamic_masking.seed)
        batches = tf.data.Dataset.zip(batches, seeds).map(
            lambda features, batch_seed: _apply_dynamic_masking(
                features, batch_seed, max_predictions_per_seq, dynamic_masking),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return batches.map(_to_model_dtypes).prefetch(tf.data.AUTOTUNE)


def _apply_dynamic_masking(features, batch_seed, max_predictions_per_seq, masking):
    input_ids, positions, labels, weights = tf.numpy_function(
        lambda ids, mask, boundary, seed: mask_batch(ids, mask, boundary, seed,
                                                     max_predictions_per_seq, masking),
        [features["input_ids"], features["input_mask"], features.pop(TOKEN_BOUNDARY),
         batch_seed],
        [tf.int64, tf.int64, tf.int64, tf.float32], stateful=False)
    batch = tf.shape(features["input_ids"])[0]
    features["input_ids"] = tf.reshape(input_ids, tf.shape(features["input_ids"]))
    features["masked_lm_positions"] = tf.reshape(positions, [batch, max_predictions_per_seq])
    features["masked_lm_ids"] = tf.reshape(labels, [batch, max_predictions_per_seq])
    features["masked_lm_weights"] = tf.reshape(weights, [batch, max_predictions_per_seq])
    return features


def _to_model_dtypes(features):
    converted = {name: (tf.cast(value, tf.int32) if value.dtype == tf.int64 else value)
                 for name, value in features.items()}
    converted[SENTENCE_ORDER_LABEL] = tf.reshape(converted[SENTENCE_ORDER_LABEL], [-1])
    return converted
