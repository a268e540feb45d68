import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.models import AlbertClassifier, AlbertEncoder, AlbertPretrainer
from tests.conftest import encoder_features, random_batch, tiny_config


def build(kind, config):
    if kind == "encoder":
        return AlbertEncoder(config)
    if kind == "pretrainer":
        return AlbertPretrainer(config)
    return AlbertClassifier(config, num_classes=3, dropout_rate=0.2)


def flat_outputs(model, batch):
    return [np.asarray(x) for x in tf.nest.flatten(model(batch, training=False))]


@pytest.mark.parametrize("kind, sharing, groups, inner, layout", [
    ("encoder", "all", 2, 2, "original"), ("pretrainer", "all", 1, 1, "original"),
    ("pretrainer", "attention", 1, 1, "original"), ("pretrainer", "none", 1, 1, "original"),
    ("classifier", "ffn", 2, 1, "original"), ("pretrainer", "all", 1, 1, "project_first"),
])
def test_keras_file_round_trip_gives_identical_outputs(tmp_path, kind, sharing, groups, inner,
                                                       layout):
    config = tiny_config(sharing=sharing, num_hidden_groups=groups, inner_group_num=inner,
                         embedding_layout=layout)
    model = build(kind, config)
    batch = random_batch(config)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.albert_config == config
    assert loaded.count_params() == model.count_params()
    for expected, actual in zip(flat_outputs(model, batch), flat_outputs(loaded, batch)):
        np.testing.assert_array_equal(actual, expected)


def test_classifier_config_keeps_head_settings():
    model = AlbertClassifier(tiny_config(), num_classes=1, dropout_rate=0.3)
    clone = AlbertClassifier.from_config(model.get_config())
    assert (clone.num_classes, clone.dropout_rate) == (1, 0.3)
    batch = encoder_features(random_batch(tiny_config()))
    assert tuple(clone(batch).shape) == (3, 1)


@pytest.mark.parametrize("sharing", ["all", "ffn"])
def test_checkpoint_round_trip_into_a_fresh_model(tmp_path, sharing):
    config = tiny_config(sharing=sharing)
    batch = random_batch(config)
    keras.utils.set_random_seed(1)
    model = AlbertPretrainer(config)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))

    keras.utils.set_random_seed(2)
    fresh = AlbertPretrainer(config)
    before = flat_outputs(fresh, batch)
    tf.train.Checkpoint(model=fresh).read(path).assert_consumed()
    after, expected = flat_outputs(fresh, batch), flat_outputs(model, batch)
    assert any(np.abs(b - e).max() > 1e-4 for b, e in zip(before, expected))
    for actual, wanted in zip(after, expected):
        np.testing.assert_array_equal(actual, wanted)


def test_encoder_checkpoint_warm_starts_a_classifier(tmp_path):
    config = tiny_config()
    pretrainer = AlbertPretrainer(config)
    path = tf.train.Checkpoint(encoder=pretrainer.encoder).write(str(tmp_path / "encoder"))
    classifier = AlbertClassifier(config, num_classes=2)
    tf.train.Checkpoint(encoder=classifier.encoder).read(path).assert_consumed()
    batch = encoder_features(random_batch(config))
    np.testing.assert_array_equal(classifier.encoder(batch)["pooled_output"],
                                  pretrainer.encoder(batch)["pooled_output"])


def test_task_models_built_on_one_encoder_share_its_weights():
    config = tiny_config()
    encoder = AlbertEncoder(config)
    pretrainer, classifier = AlbertPretrainer(encoder), AlbertClassifier(encoder, 2)
    assert pretrainer.encoder is encoder and classifier.encoder is encoder
    batch = encoder_features(random_batch(config))
    before = classifier(batch, training=False).numpy()
    for weight in pretrainer.encoder.weights:
        weight.assign(weight + 0.01)
    assert np.abs(classifier(batch, training=False).numpy() - before).max() > 1e-4
    with pytest.raises(TypeError, match="expected an AlbertEncoder or an AlbertConfig, got str"):
        AlbertClassifier("albert_base", 2)


def test_a_classifier_config_of_the_config_only_form_still_loads():
    """`.keras` files written when task models took a config hold {"config": {...}}."""
    config = tiny_config()
    model = AlbertClassifier(config, num_classes=2, dropout_rate=0.3)
    old_form = {key: value for key, value in model.get_config().items() if key != "encoder"}
    old_form["config"] = config.to_dict()
    clone = AlbertClassifier.from_config(old_form)
    assert clone.albert_config == config and (clone.num_classes, clone.dropout_rate) == (2, 0.3)
    assert clone.count_params() == model.count_params()


def test_a_multiple_choice_model_round_trips_through_a_keras_file(tmp_path):
    from albert_tf.models import AlbertMultipleChoice

    config = tiny_config()
    model = AlbertMultipleChoice(config, num_choices=3, dropout_rate=0.2)
    batch = {name: np.stack([value] * 3, axis=1)  # [batch, 3, seq]
             for name, value in encoder_features(random_batch(config)).items()}
    model.save(str(tmp_path / "race.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "race.keras"))
    assert type(loaded) is AlbertMultipleChoice and loaded.num_choices == 3
    assert loaded.dropout_rate == 0.2
    np.testing.assert_array_equal(loaded(batch, training=False).numpy(),
                                  model(batch, training=False).numpy())
