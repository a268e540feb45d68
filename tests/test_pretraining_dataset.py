import os

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.example_encoding import ExampleEncoder
from albert_tf.data.pretraining_data import PretrainingDataSettings, create_pretraining_data
from albert_tf.data.pretraining_dataset import (DynamicMasking, PretrainingRecordError,
                                                pretraining_dataset, recorded_lengths,
                                                recorded_tokenizer)
from albert_tf.data.sentencepiece_tokenizer import CLS_ID, SEP_ID, train_sentencepiece
from tests.records import read_records
from tests.text_corpus import write_corpus

SEQ, PREDICTIONS = 64, 10


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Static and unmasked (dynamic) shards of the same corpus."""
    folder = tmp_path_factory.mktemp("records")
    text = write_corpus(folder / "a.txt", 60, seed=3)
    spm_model = train_sentencepiece([text], str(folder / "spm"), vocab_size=300)
    outputs = {}
    for name, dynamic in (("static", False), ("dynamic", True)):
        sidecar = create_pretraining_data(
            [text], str(folder / name / "train.tfrecord"), spm_model,
            PretrainingDataSettings(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
                                    dupe_factor=1, dynamic_masking=dynamic),
            num_output_shards=2)
        outputs[name] = sidecar
    return outputs


def test_an_evaluation_pass_reads_every_record_once(written):
    files = written["static"]["output_files"]
    expected = read_records(files)
    batches = list(pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=16,
                                       is_training=False).as_numpy_iterator())
    assert sum(len(b["input_ids"]) for b in batches) == len(expected) \
        == written["static"]["statistics"]["instances"]
    assert {name: value.dtype.name for name, value in batches[0].items()} == {
        "input_ids": "int32", "input_mask": "int32", "segment_ids": "int32",
        "masked_lm_positions": "int32", "masked_lm_ids": "int32",
        "masked_lm_weights": "float32", "next_sentence_labels": "int32"}
    got = sorted(tuple(row) for b in batches for row in b["input_ids"].tolist())
    assert got == sorted(tuple(r["input_ids"].tolist()) for r in expected)


def test_training_batches_are_full_shuffled_and_repeat(written):
    files = written["static"]["output_files"]
    instances = written["static"]["statistics"]["instances"]
    dataset = pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=16, seed=1)
    batches = list(dataset.take(instances // 16 * 2 + 3).as_numpy_iterator())  # > 2 epochs
    assert all(len(b["input_ids"]) == 16 for b in batches)
    again = list(pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=16, seed=1)
                 .take(3).as_numpy_iterator())
    np.testing.assert_array_equal(again[0]["input_ids"], batches[0]["input_ids"])
    ordered = next(iter(pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=16,
                                            is_training=False)))
    assert not np.array_equal(ordered["input_ids"].numpy(), batches[0]["input_ids"])


def test_input_pipelines_read_disjoint_files(written):
    files = written["static"]["output_files"]
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        dataset = pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=8, is_training=False,
                                      input_context=context)
        batches = list(dataset.as_numpy_iterator())
        assert len(batches[0]["input_ids"]) == 4  # per-replica share of the global batch
        seen.append(sorted(tuple(r) for b in batches for r in b["input_ids"].tolist()))
    assert set(seen[0]).isdisjoint(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(
        tuple(r["input_ids"].tolist()) for r in read_records(files))


def test_dynamic_masking_masks_anew_each_epoch_by_the_same_rules(written):
    files = written["dynamic"]["output_files"]
    originals = {tuple(r["input_ids"].tolist()) for r in read_records(files)}
    assert written["dynamic"]["masked"] is False
    instances = written["dynamic"]["statistics"]["instances"]

    def two_epochs(masking_seed):
        dataset = pretraining_dataset(files, SEQ, PREDICTIONS, batch_size=instances, seed=0,
                                      dynamic_masking=DynamicMasking(300, seed=masking_seed))
        return list(dataset.take(2).as_numpy_iterator())

    masks_of = {}
    masked = real = 0
    for batch in two_epochs(5):
        for ids, mask, positions, labels, weights in zip(
                batch["input_ids"], batch["input_mask"], batch["masked_lm_positions"],
                batch["masked_lm_ids"], batch["masked_lm_weights"]):
            count = int(weights.sum())
            restored = ids.copy()
            restored[positions[:count]] = labels[:count]
            original = tuple(restored.tolist())
            assert original in originals  # labels are the original ids
            assert not np.isin(labels[:count], [CLS_ID, SEP_ID]).any()
            masks_of.setdefault(original, set()).add(tuple(positions[:count].tolist()))
            masked += count
            real += int(mask.sum())
    assert abs(masked / real - 0.15) < 0.02
    seen_twice = [masks for masks in masks_of.values() if len(masks) > 1]
    assert len(seen_twice) > instances // 4  # a record read twice got two different masks
    np.testing.assert_array_equal(two_epochs(5)[1]["masked_lm_positions"],
                                  two_epochs(5)[1]["masked_lm_positions"])
    assert not np.array_equal(two_epochs(6)[0]["masked_lm_positions"],
                              two_epochs(5)[0]["masked_lm_positions"])


def test_records_and_flags_must_agree(written):
    static, dynamic = written["static"]["output_files"], written["dynamic"]["output_files"]
    with pytest.raises(PretrainingRecordError, match="'input_ids' has length 64 but 128"):
        pretraining_dataset(static, 128, PREDICTIONS, batch_size=4)
    with pytest.raises(PretrainingRecordError, match="'masked_lm_positions' has length 10 but 20"):
        pretraining_dataset(static, SEQ, 20, batch_size=4)
    with pytest.raises(PretrainingRecordError, match="already masked"):
        pretraining_dataset(static, SEQ, PREDICTIONS, batch_size=4,
                            dynamic_masking=DynamicMasking(vocab_size=300))
    with pytest.raises(PretrainingRecordError, match="carry no masked_lm_"):
        pretraining_dataset(dynamic, SEQ, PREDICTIONS, batch_size=4)


def test_record_lengths_come_from_the_manifests(written, tmp_path):
    """run_pretraining takes --max_seq_length / --max_predictions_per_seq from here."""
    files = written["static"]["output_files"]
    assert recorded_lengths(files) == {"max_seq_length": SEQ,
                                       "max_predictions_per_seq": PREDICTIONS}
    stray = tmp_path / "other.tfrecord"
    stray.write_bytes(b"")
    assert recorded_lengths(files + [str(stray)]) is None  # no manifest: the flags decide
    tokenizer = recorded_tokenizer(files)
    assert os.path.isabs(tokenizer["spm_model_file"]) and tokenizer["do_lower_case"] is True
    assert recorded_tokenizer(files + [str(stray)]) is None


def test_records_written_the_original_way_load(tmp_path):
    """The original tool builds each record with tf.train.Example from Python lists."""
    path = str(tmp_path / "original.tfrecord")
    rng = np.random.default_rng(0)
    rows = []
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(5):
            ids = [CLS_ID] + rng.integers(5, 100, 6).tolist() + [SEP_ID] + [0] * 4
            row = {"input_ids": ids, "input_mask": [1] * 8 + [0] * 4,
                   "segment_ids": [0] * 12, "masked_lm_positions": [1, 2, 0],
                   "masked_lm_ids": ids[1:3] + [0], "next_sentence_labels": [1]}
            feature = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                       for k, v in row.items()}
            feature["masked_lm_weights"] = tf.train.Feature(
                float_list=tf.train.FloatList(value=[1.0, 1.0, 0.0]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature))
                         .SerializeToString())
            rows.append(row)
    batch = next(iter(pretraining_dataset([path], 12, 3, batch_size=5, is_training=False)))
    np.testing.assert_array_equal(batch["input_ids"], [r["input_ids"] for r in rows])
    np.testing.assert_array_equal(batch["masked_lm_weights"], [[1.0, 1.0, 0.0]] * 5)
    np.testing.assert_array_equal(batch["next_sentence_labels"], [1] * 5)


def test_example_encoder_matches_tf_train_example():
    rng = np.random.default_rng(1)
    ints = {"big": rng.integers(-2**63, 2**63 - 1, size=(7, 5), dtype=np.int64),
            "small": rng.integers(0, 128, size=(7, 3)),
            "mixed": rng.integers(0, 2**40, size=(7, 4)) >> rng.integers(0, 40, size=(7, 4)),
            "empty": np.zeros((7, 0), np.int64)}
    floats = {"w": rng.normal(size=(7, 2)).astype(np.float32), "none": np.zeros((7, 0))}
    records = ExampleEncoder().encode_batch(ints, floats)
    for row, record in enumerate(records):
        feature = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=v[row].tolist()))
                   for k, v in ints.items()}
        feature.update({k: tf.train.Feature(float_list=tf.train.FloatList(value=v[row].tolist()))
                        for k, v in floats.items()})
        expected = tf.train.Example(features=tf.train.Features(feature=feature))
        assert tf.train.Example.FromString(record) == expected


def test_empty_and_foreign_files_are_named(tmp_path):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    with pytest.raises(PretrainingRecordError, match="empty.tfrecord: holds no record"):
        pretraining_dataset([str(empty)], SEQ, PREDICTIONS, batch_size=4)
    text = tmp_path / "text.tfrecord"
    text.write_text("this is a text file, not TFRecords\n" * 10)
    with pytest.raises(PretrainingRecordError, match="text.tfrecord: not a readable TFRecord"):
        pretraining_dataset([str(text)], SEQ, PREDICTIONS, batch_size=4)
    with pytest.raises(PretrainingRecordError, match="no input file given"):
        pretraining_dataset([], SEQ, PREDICTIONS, batch_size=4)
