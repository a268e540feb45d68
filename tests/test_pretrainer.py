import numpy as np
import pytest

from albert_tf.models import AlbertPretrainer, pretraining_losses
from tests.conftest import random_batch, tiny_config


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def reference_losses(mlm_logits, sop_logits, ids, weights, labels):
    token_nll = -np.take_along_axis(log_softmax(mlm_logits), ids[..., None], -1)[..., 0]
    mlm_loss = (token_nll * weights).sum() / (weights.sum() + 1e-5)
    mlm_accuracy = ((mlm_logits.argmax(-1) == ids) * weights).sum() / (weights.sum() + 1e-5)
    sop_nll = -np.take_along_axis(log_softmax(sop_logits), labels[:, None], -1)[:, 0]
    return {"mlm_loss": mlm_loss, "sop_loss": sop_nll.mean(), "loss": mlm_loss + sop_nll.mean(),
            "mlm_accuracy": mlm_accuracy, "sop_accuracy": (sop_logits.argmax(-1) == labels).mean()}


def test_losses_match_reference_and_ignore_zero_weight_predictions():
    rng = np.random.default_rng(9)
    mlm_logits = rng.normal(size=(3, 4, 11)).astype("float32")
    sop_logits = rng.normal(size=(3, 2)).astype("float32")
    ids = rng.integers(0, 11, size=(3, 4))
    ids[0, 0] = mlm_logits[0, 0].argmax()  # at least one correct prediction
    weights = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], "float32")
    labels = np.array([0, 1, 1])
    actual = pretraining_losses(mlm_logits, sop_logits, ids, weights, labels)
    for name, value in reference_losses(mlm_logits, sop_logits, ids, weights, labels).items():
        np.testing.assert_allclose(float(actual[name]), value, rtol=1e-5, err_msg=name)
    assert float(actual["mlm_weight_sum"]) == 9.0

    # Changing the logits of a zero-weight slot must not change any loss.
    mlm_logits[0, 3] += 100.0
    again = pretraining_losses(mlm_logits, sop_logits, ids, weights, labels)
    np.testing.assert_allclose(float(again["mlm_loss"]), float(actual["mlm_loss"]), rtol=1e-6)


def test_untrained_model_loss_is_near_uniform_prediction():
    config = tiny_config()
    model = AlbertPretrainer(config)
    losses = model.compute_losses(random_batch(config, batch=4, seq=16))
    # Small random init: MLM close to log(V), SOP close to log(2).
    assert abs(float(losses["mlm_loss"]) - np.log(config.vocab_size)) < 0.3
    assert abs(float(losses["sop_loss"]) - np.log(2)) < 0.1
    assert tuple(losses["mlm_logits"].shape) == (4, 4, config.vocab_size)


def test_mlm_output_uses_the_word_embedding_table():
    config = tiny_config()
    model = AlbertPretrainer(config)
    batch = random_batch(config)
    before = model(batch)["mlm_logits"].numpy()
    table = model.encoder.embeddings.embedding_table
    table.assign(table.numpy() * 2.0)
    assert np.abs(model(batch)["mlm_logits"].numpy() - before).max() > 1e-3
    assert sum(1 for w in model.weights if w is table) == 1


def test_compute_losses_requires_labels():
    config = tiny_config()
    batch = random_batch(config, with_labels=False)
    with pytest.raises(KeyError, match=r"batch lacks label features \['masked_lm_ids'"):
        AlbertPretrainer(config).compute_losses(batch)


def test_batch_with_extra_keys_reads_features_by_name():
    config = tiny_config()
    model = AlbertPretrainer(config)
    batch = random_batch(config)
    features = {name: batch[name] for name in model.feature_names}
    np.testing.assert_array_equal(model(batch)["sop_logits"], model(features)["sop_logits"])
