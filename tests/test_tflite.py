"""LiteRT (TFLite) exports run by the TFLite interpreter against the Keras model: float32
to 1e-4, dynamic-range int8 close and smaller, any batch and length, the folder's files."""

import os

import numpy as np
import pytest

from albert_tf.config import AlbertConfig
from albert_tf.export.tflite import (TfliteError, TfliteRunner, tflite_model, write_tflite)
from albert_tf.models import AlbertClassifier, AlbertEncoder
from albert_tf.models.question_answering import AlbertQuestionAnswering
from tests.reference import randomize

CONFIG = AlbertConfig(vocab_size=300, embedding_size=16, hidden_size=64, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=128, max_position_embeddings=32,
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def a_batch(batch=3, seq=11, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, CONFIG.vocab_size, (batch, seq)).astype("int32")
    mask = np.ones_like(ids)
    mask[-1, seq // 2:] = 0
    ids[-1, seq // 2:] = 0
    segments = np.zeros_like(ids)
    segments[:, 4:] = 1
    return ids, mask, segments


@pytest.fixture(scope="module")
def classifier():
    model = AlbertClassifier(CONFIG, 3, dropout_rate=0.0)
    randomize(model, seed=1, scale=0.2)
    return model


@pytest.fixture(scope="module")
def flatbuffers(classifier):
    return {quantization: tflite_model(classifier, quantization, max_seq_length=32)
            for quantization in ("float32", "dynamic_int8")}


def keras_outputs(model, ids, mask, segments):
    return model({"input_ids": ids, "input_mask": mask, "segment_ids": segments}).numpy()


@pytest.mark.parametrize("shape", [(3, 11), (1, 5), (2, 32)])
def test_the_float32_model_computes_what_the_keras_model_does(classifier, flatbuffers, shape):
    batch = a_batch(*shape, seed=shape[1])
    want = keras_outputs(classifier, *batch)
    got = TfliteRunner(flatbuffers["float32"])(*batch)
    np.testing.assert_allclose(got["logits"], want, atol=1e-4)
    exp = np.exp(want - want.max(-1, keepdims=True))
    np.testing.assert_allclose(got["probabilities"], exp / exp.sum(-1, keepdims=True),
                               atol=1e-5)


def test_the_int8_model_is_smaller_and_close(classifier, flatbuffers):
    # The tiny model's small tensors (biases, LayerNorms) stay float32.
    assert len(flatbuffers["dynamic_int8"]) * 1.8 < len(flatbuffers["float32"])
    batch = a_batch(8, 16, seed=3)
    want = keras_outputs(classifier, *batch)
    got = TfliteRunner(flatbuffers["dynamic_int8"])(*batch)["logits"]
    assert np.abs(got - want).max() < 0.05 * np.abs(want).max()
    assert not np.array_equal(got, want)  # it really computes with int8 weights


def test_an_encoder_and_a_regressor(tmp_path):
    encoder = AlbertEncoder(CONFIG)
    randomize(encoder, seed=2, scale=0.2)
    batch = a_batch()
    got = TfliteRunner(tflite_model(encoder, max_seq_length=16))(*batch)
    want = encoder({"input_ids": batch[0], "input_mask": batch[1], "segment_ids": batch[2]})
    valid = batch[1].astype(bool)
    np.testing.assert_allclose(got["sequence_output"][valid],
                               want["sequence_output"].numpy()[valid], atol=1e-4)
    np.testing.assert_allclose(got["pooled_output"], want["pooled_output"], atol=1e-4)
    regressor = AlbertClassifier(CONFIG, 1, dropout_rate=0.0)
    got = TfliteRunner(tflite_model(regressor, max_seq_length=16))(*batch)
    np.testing.assert_allclose(got["score"], keras_outputs(regressor, *batch)[:, 0], atol=1e-4)


def test_the_folder_holds_both_models_the_tokenizer_and_the_labels(tmp_path, classifier,
                                                                     assets):
    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer

    _, spm_model, _ = assets
    written = write_tflite(classifier, str(tmp_path / "lite"), AlbertTokenizer(spm_model), 32,
                           labels=["a", "b", "c"])
    assert sorted(os.listdir(tmp_path / "lite")) == ["labels.txt", "model.tflite",
                                                     "model_int8.tflite", "spiece.model"]
    assert (tmp_path / "lite" / "labels.txt").read_text() == "a\nb\nc\n"
    assert (tmp_path / "lite" / "spiece.model").read_bytes() == open(spm_model, "rb").read()
    flat = open(written["float32"], "rb").read()
    batch = a_batch(seed=4)
    np.testing.assert_allclose(TfliteRunner(flat)(*batch)["logits"],
                               keras_outputs(classifier, *batch), atol=1e-4)


def test_what_lite_rt_does_not_hold_is_refused(tmp_path):
    with pytest.raises(TfliteError, match="not an AlbertQuestionAnswering"):
        tflite_model(AlbertQuestionAnswering(CONFIG))
    with pytest.raises(TfliteError, match="quantization 'int4'"):
        tflite_model(AlbertEncoder(CONFIG), "int4")
