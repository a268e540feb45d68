import keras
import numpy as np
import pytest

from albert_tf.models import AlbertClassifier, AlbertPretrainer
from tests.conftest import encoder_features, random_batch, tiny_config


@pytest.mark.parametrize("policy, tolerance", [("mixed_bfloat16", 0.1), ("mixed_float16", 0.02)])
def test_mixed_precision_keeps_float32_variables_logits_and_losses(policy, tolerance):
    config = tiny_config()
    batch = random_batch(config)
    reference_model = AlbertPretrainer(config)
    reference = reference_model.compute_losses(batch)

    keras.mixed_precision.set_global_policy(policy)
    model = AlbertPretrainer(config)
    model.set_weights(reference_model.get_weights())
    assert all(w.dtype == "float32" for w in model.weights)
    half = policy.split("_")[1]
    assert model.encoder(encoder_features(batch))["sequence_output"].dtype == half

    losses = model.compute_losses(batch)
    for name in ("mlm_logits", "sop_logits", "loss", "mlm_loss", "sop_loss"):
        assert losses[name].dtype == "float32", name
    np.testing.assert_allclose(float(losses["loss"]), float(reference["loss"]), rtol=tolerance)
    np.testing.assert_allclose(losses["sop_logits"], reference["sop_logits"], atol=tolerance)


def test_dtype_argument_sets_the_policy_per_model_and_survives_config():
    config = tiny_config()
    model = AlbertClassifier(config, num_classes=2, dtype="mixed_bfloat16")
    assert model.encoder.embeddings.dtype_policy.name == "mixed_bfloat16"
    assert model(encoder_features(random_batch(config))).dtype == "float32"
    clone = AlbertClassifier.from_config(model.get_config())
    assert clone.encoder.transformer_blocks[0].dtype_policy.name == "mixed_bfloat16"
