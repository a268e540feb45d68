"""The feature schema against what the writers write and the readers parse."""

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.features import (CLASSIFIER_LABEL, ENCODER_FEATURES,
                                     classifier_record_schema, parse_spec,
                                     pretraining_record_schema)
from albert_tf.data.example_encoding import ExampleEncoder
from albert_tf.data.pretraining_data import (InstanceStats, PretrainingDataSettings,
                                             instance_batch)
from albert_tf.data.segment_pairs import SegmentPair
from albert_tf.models import AlbertEncoder
from tests.conftest import tiny_config


def written_features(record: bytes):
    """{name: (length, dtype)} of one serialized Example."""
    features = {}
    for name, feature in tf.train.Example.FromString(record).features.feature.items():
        kind = feature.WhichOneof("kind")
        features[name] = (len(getattr(feature, kind).value),
                          {"int64_list": "int64", "float_list": "float32"}[kind])
    return features


@pytest.mark.parametrize("dynamic_masking", [False, True])
def test_pretraining_records_hold_the_schema(dynamic_masking):
    settings = PretrainingDataSettings(max_seq_length=16, max_predictions_per_seq=3,
                                       dynamic_masking=dynamic_masking)
    pairs = [SegmentPair([10, 11, 12], [13, 14], 0), SegmentPair([15], [16, 17, 18, 19], 1)]
    word_starts = np.ones(30, bool)
    int64_features, float_features = instance_batch(
        pairs, word_starts, settings, np.random.default_rng(0),
        InstanceStats.for_ngram(settings.ngram))
    record = ExampleEncoder().encode_batch(int64_features, float_features)[0]
    written = written_features(record)
    schema = pretraining_record_schema(16, 3, dynamic_masking)
    for name, feature in schema.items():
        assert written[name] == (feature.length, feature.dtype), name
    # Masked records also carry token_boundary, as the original's do; the parser skips it.
    assert set(written) - set(schema) == (set() if dynamic_masking else {"token_boundary"})
    parsed = tf.io.parse_single_example(record, parse_spec(schema))
    assert parsed["segment_ids"].numpy()[:8].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    if dynamic_masking:  # unmasked: the ids are the pair's
        assert parsed["input_ids"].numpy()[:8].tolist() == [2, 10, 11, 12, 3, 13, 14, 3]


def test_classifier_schema_parses_a_label_as_a_scalar():
    schema = classifier_record_schema(8, regression=True)
    record = ExampleEncoder().encode_batch(
        {name: np.ones((1, 8), np.int64) for name in ENCODER_FEATURES},
        {CLASSIFIER_LABEL: np.array([[2.5]])})[0]
    parsed = tf.io.parse_example([record], parse_spec(schema, scalars=(CLASSIFIER_LABEL,)))
    assert parsed[CLASSIFIER_LABEL].shape == (1,) and float(parsed[CLASSIFIER_LABEL][0]) == 2.5
    assert parsed["input_mask"].shape == (1, 8)


def test_models_name_their_inputs_after_the_schema():
    assert tuple(AlbertEncoder(tiny_config()).feature_names) == ENCODER_FEATURES
