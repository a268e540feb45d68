"""Batches by length: grouping, cutting, determinism, file order (data/length_batches.py)."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.length_batches import (BUCKET_WIDTH, EXAMPLE_INDEX, in_file_order,
                                           length_batches)

MAX_SEQ = 64
FEATURES = ("input_ids", "input_mask", "segment_ids")


def padded_examples(count=300, seed=0):
    """Examples padded to MAX_SEQ: ids start with the example's number (so each can be
    found again), lengths from 3 to MAX_SEQ, zeros after the length."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, MAX_SEQ + 1, count)
    ids = np.zeros((count, MAX_SEQ), np.int32)
    segments = np.zeros((count, MAX_SEQ), np.int32)
    for number, length in enumerate(lengths):
        ids[number, :length] = rng.integers(5, 1000, length)
        ids[number, 0] = number
        segments[number, length // 2:length] = 1
    mask = (np.arange(MAX_SEQ)[None] < lengths[:, None]).astype(np.int32)
    labels = rng.integers(0, 2, count).astype(np.int32)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments,
            "label_ids": labels}, lengths


def dataset(examples):
    return tf.data.Dataset.from_tensor_slices(examples)


def listed(batches):
    return [{name: value.numpy() for name, value in batch.items()} for batch in batches]


def check_cut_batch(batch, examples, lengths, width=None):
    """Every example of the batch is an original one, cut only where all are padding."""
    numbers = batch["input_ids"][:, 0]
    longest = lengths[numbers].max()
    assert batch["input_ids"].shape[1] == (width or longest)
    for name in FEATURES:
        cut = batch[name].shape[1]
        np.testing.assert_array_equal(batch[name], examples[name][numbers, :cut])
        assert not examples[name][numbers, cut:].any()
    np.testing.assert_array_equal(batch["label_ids"], examples["label_ids"][numbers])
    return numbers


def test_training_batches_are_full_one_bucket_each_and_cut_to_their_longest():
    examples, lengths = padded_examples()
    batches = listed(length_batches(dataset(examples), 8, MAX_SEQ, FEATURES,
                                    is_training=True, seed=5))
    seen = []
    for batch in batches:
        assert len(batch["input_ids"]) == 8 and EXAMPLE_INDEX not in batch
        numbers = check_cut_batch(batch, examples, lengths)
        assert len({(length - 1) // BUCKET_WIDTH for length in lengths[numbers]}) == 1
        seen.extend(numbers)
    # Each example at most once; only the unfinished batch of each bucket is left over.
    assert len(seen) == len(set(seen))
    buckets = MAX_SEQ // BUCKET_WIDTH
    assert len(examples["input_ids"]) - buckets * 7 <= len(seen) <= len(examples["input_ids"])
    # Far fewer positions than padding every example to MAX_SEQ.
    assert sum(b["input_ids"].size for b in batches) < 0.75 * len(seen) * MAX_SEQ


def test_training_order_is_a_function_of_the_seed():
    examples, _ = padded_examples()

    def order(seed):
        shuffled = dataset(examples).shuffle(1000, seed=seed)
        return [b["input_ids"][:, 0].tolist() for b in listed(
            length_batches(shuffled, 8, MAX_SEQ, FEATURES, is_training=True, seed=seed))]

    assert order(1) == order(1)
    assert order(1) != order(2)
    # Buckets come out mixed, not one length after the other.
    batches = listed(length_batches(dataset(examples).shuffle(1000, seed=1), 8, MAX_SEQ,
                                    FEATURES, True, seed=1))
    widths = [b["input_ids"].shape[1] for b in batches]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)


def test_a_group_split_into_batches_is_what_one_big_batch_would_be():
    examples, lengths = padded_examples()
    big = listed(length_batches(dataset(examples), 16, MAX_SEQ, FEATURES, True, seed=3))
    split = listed(length_batches(dataset(examples), 4, MAX_SEQ, FEATURES, True, seed=3,
                                  group_size=16))
    assert len(split) == 4 * len(big)
    for number, whole in enumerate(big):
        parts = split[4 * number:4 * number + 4]
        for name in whole:
            np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]),
                                          whole[name])
    with pytest.raises(ValueError, match="group_size 10 is not a multiple of batch_size 4"):
        length_batches(dataset(examples), 4, MAX_SEQ, FEATURES, True, group_size=10)


def test_evaluation_keeps_every_example_and_its_file_position():
    examples, lengths = padded_examples(count=203)
    batches = listed(length_batches(dataset(examples), 16, MAX_SEQ, FEATURES,
                                    is_training=False))
    indices = []
    for batch in batches:
        numbers = check_cut_batch(batch, examples, lengths)
        np.testing.assert_array_equal(batch[EXAMPLE_INDEX], numbers)
        indices.append(batch[EXAMPLE_INDEX])
    outputs = [batch["label_ids"] * 10 + batch["input_ids"][:, 0] for batch in batches]
    np.testing.assert_array_equal(in_file_order(outputs, indices),
                                  examples["label_ids"] * 10 + np.arange(203))
    # Same contents whatever the batch size.
    again = listed(length_batches(dataset(examples), 7, MAX_SEQ, FEATURES, False))
    assert sorted(np.concatenate([b[EXAMPLE_INDEX] for b in again]).tolist()) == list(
        range(203))


def test_padding_to_the_bucket_bound_limits_the_shapes():
    examples, lengths = padded_examples()
    batches = listed(length_batches(dataset(examples), 8, MAX_SEQ, FEATURES, False,
                                    pad_to_bucket=True))
    for batch in batches:
        numbers = batch[EXAMPLE_INDEX]
        bound = -(-lengths[numbers].max() // BUCKET_WIDTH) * BUCKET_WIDTH
        check_cut_batch(batch, examples, lengths, width=bound)
    assert {b["input_ids"].shape[1] for b in batches} <= {16, 32, 48, 64}


def test_outputs_must_cover_every_position_once():
    with pytest.raises(ValueError, match="not a permutation of 0..2"):
        in_file_order([np.zeros(2), np.zeros(1)], [np.array([0, 2]), np.array([2])])
