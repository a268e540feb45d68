"""keras-hub presets both ways, against keras-hub's own forward pass: ours -> preset ->
`AlbertBackbone.from_preset` / `AlbertTextClassifier.from_preset`, and a keras-hub
backbone -> `save_to_preset` -> convert_checkpoint -> ours."""

import json
import os

import numpy as np
import pytest

from albert_tf.checkpoints.conversion import convert_checkpoint
from albert_tf.checkpoints.keras_hub_preset import ConversionError, write_keras_hub_preset
from albert_tf.checkpoints.warm_start import warm_start
from albert_tf.config import AlbertConfig
from albert_tf.data.packing import pack
from albert_tf.models import AlbertClassifier, AlbertEncoder
from tests.reference import randomize

keras_hub = pytest.importorskip("keras_hub")


def config_for(vocab_size=300, **overrides):
    return AlbertConfig(**{**dict(vocab_size=vocab_size, embedding_size=16, hidden_size=32,
                                  num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2,
                                  num_attention_heads=4, intermediate_size=48,
                                  max_position_embeddings=32, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0), **overrides})


def a_batch(seed=0, vocab=300):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (3, 9)).astype("int32")
    mask = np.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = 0
    segments = np.zeros_like(ids)
    segments[:, 5:] = 1
    return ids, mask, segments


def hub_inputs(ids, mask, segments):
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


def our_inputs(ids, mask, segments):
    return {"input_ids": ids, "input_mask": mask, "segment_ids": segments}


@pytest.mark.parametrize("embedding_size", [16, 32])  # 32: E == H, no projection here
def test_an_encoder_preset_loads_in_keras_hub_and_computes_the_same(tmp_path, embedding_size):
    encoder = AlbertEncoder(config_for(embedding_size=embedding_size))
    randomize(encoder, seed=embedding_size, scale=0.3)
    write_keras_hub_preset(encoder, str(tmp_path / "preset"))
    backbone = keras_hub.models.AlbertBackbone.from_preset(str(tmp_path / "preset"))
    batch = a_batch()
    theirs = backbone(hub_inputs(*batch))
    ours = encoder(our_inputs(*batch))
    valid = batch[1].astype(bool)
    np.testing.assert_allclose(ours["sequence_output"].numpy()[valid],
                               theirs["sequence_output"].numpy()[valid], atol=1e-4)
    np.testing.assert_allclose(ours["pooled_output"], theirs["pooled_output"], atol=1e-4)


def test_a_classifier_preset_with_its_tokenizer_predicts_as_ours(tmp_path, assets):
    folder, spm_model, _ = assets
    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer(spm_model)
    model = AlbertClassifier(config_for(), 3, dropout_rate=0.0)
    randomize(model, seed=9, scale=0.3)
    notes = write_keras_hub_preset(model, str(tmp_path / "preset"), tokenizer,
                                   sequence_length=16)
    assert any("does not lower-case" in note for note in notes)
    preset = tmp_path / "preset"
    assert json.load(open(preset / "task.json"))["class_name"] == "AlbertTextClassifier"
    assert (preset / "assets" / "tokenizer" / "vocabulary.spm").read_bytes() == \
        tokenizer.model_proto
    task = keras_hub.models.AlbertTextClassifier.from_preset(str(preset))
    texts = ["the cat sat on the mat", "a dog ran far away from home"]  # lower case
    ids, mask, segments = (np.array(rows, "int32") for rows in zip(
        *(pack(tokenizer.encode(text), None, 16, tokenizer.special_ids) for text in texts)))
    packed = task.preprocessor(texts)
    np.testing.assert_array_equal(packed["token_ids"], ids)
    np.testing.assert_array_equal(packed["padding_mask"].numpy().astype("int32"), mask)
    ours = model(our_inputs(ids, mask, segments)).numpy()
    np.testing.assert_allclose(task.predict(texts, verbose=0), ours, atol=1e-4)


def test_a_keras_hub_preset_converts_to_the_same_function(tmp_path, assets):
    _, spm_model, _ = assets
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=300, num_layers=4, num_heads=4, embedding_dim=16, hidden_dim=32,
        intermediate_dim=48, num_groups=2, num_inner_repetitions=1, max_sequence_length=32)
    randomize(backbone, seed=5, scale=0.3)
    task = keras_hub.models.AlbertTextClassifier(backbone, 2, preprocessor=None)
    randomize(task.output_dense, seed=6, scale=0.3)
    task.save_to_preset(str(tmp_path / "preset"))
    keras_hub.models.AlbertTokenizer(proto=spm_model).save_to_preset(str(tmp_path / "preset"))
    report = convert_checkpoint(str(tmp_path / "preset"), str(tmp_path / "ours"))
    assert "AlbertClassifier: encoder and classifier head, 2 outputs" in report.wrote
    assert "spiece.model" in report.tokenizer
    config = AlbertConfig.from_json_file(str(tmp_path / "ours" / "albert_config.json"))
    assert (config.num_hidden_groups, config.inner_group_num, config.embedding_size) == (2, 1, 16)
    model = AlbertClassifier(config, 2, dropout_rate=0.0)
    assert warm_start(str(tmp_path / "ours"), model, [(("model",), model)]).fresh == []
    batch = a_batch(seed=2)
    np.testing.assert_allclose(model(our_inputs(*batch)).numpy(),
                               task.predict(hub_inputs(*batch), verbose=0), atol=1e-4)
    assert (tmp_path / "ours" / "spiece.model").read_bytes() == open(spm_model, "rb").read()


@pytest.mark.parametrize("overrides, message", [
    ({"hidden_act": "relu"}, "hidden_act='relu'"),
    ({"layer_norm_eps": 1e-6}, "layer_norm_eps=1e-06"),
    ({"sharing": "ffn"}, "sharing='ffn' shares only the ffn half"),
    # int(15 / 22 * 22) is 14: the original runs layer 15 in group 14, keras-hub in 15.
    ({"num_hidden_layers": 22, "num_hidden_groups": 22, "hidden_size": 8,
      "num_attention_heads": 2, "intermediate_size": 8},
     "num_hidden_groups=22 over num_hidden_layers=22: keras-hub's AlbertBackbone runs "
     "layer 15 in group 15"),
])
def test_what_keras_hub_cannot_compute_is_refused(tmp_path, overrides, message):
    with pytest.raises(ConversionError, match=message):
        write_keras_hub_preset(AlbertEncoder(config_for(**overrides)), str(tmp_path / "p"))
    assert not os.path.exists(tmp_path / "p")
