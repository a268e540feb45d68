import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_tf.models import AlbertPretrainer
from albert_tf.training.optimization import (WarmupPolynomialDecay, clipped_replica_gradients,
                                             create_optimizer, weight_decay_excluded)
from tests.conftest import tiny_config


def reference_learning_rate(step, peak, total, warmup, start=0, power=1.0):
    """The original's schedule, written out: linear warmup, then polynomial decay to 0."""
    if warmup and step - start < warmup:
        return peak * max(step - start, 0) / warmup
    return peak * (1 - min(step, total) / total) ** power


@pytest.mark.parametrize("warmup, start, power", [(0, 0, 1.0), (10, 0, 1.0), (10, 5, 2.0)])
def test_schedule_matches_the_written_out_formula(warmup, start, power):
    schedule = WarmupPolynomialDecay(0.00176, 100, warmup, start, power)
    for step in (0, 1, 4, 5, 9, 10, 14, 15, 50, 99, 100, 150):
        assert float(schedule(step)) == pytest.approx(
            reference_learning_rate(step, 0.00176, 100, warmup, start, power), abs=1e-9), step


def test_schedule_round_trips_through_its_config():
    schedule = WarmupPolynomialDecay(0.1, 50, 5, 2, 0.5)
    clone = WarmupPolynomialDecay.from_config(schedule.get_config())
    assert [float(clone(s)) for s in range(0, 60, 7)] == [float(schedule(s))
                                                           for s in range(0, 60, 7)]


def test_weight_decay_spares_layer_norm_and_bias_only():
    model = AlbertPretrainer(tiny_config())
    excluded = {v.path for v in weight_decay_excluded(model.trainable_variables)}
    assert excluded and all("LayerNorm" in p or "layer_norm" in p or "bias" in p
                            for p in excluded)
    kernels = [v for v in model.trainable_variables if v.path not in excluded]
    assert any("embeddings" in v.path for v in kernels)
    assert any(v.path.endswith("kernel") for v in kernels)

    # One AdamW step with zero gradients moves nothing but the decay: kernels shrink by
    # lr * wd, excluded variables keep their values.
    optimizer = create_optimizer("adamw", 0.1, num_train_steps=10,
                                 variables=model.trainable_variables)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in model.trainable_variables])
    for variable in model.trainable_variables:
        expected = before[variable.path] * (1.0 if variable.path in excluded else 1 - 0.1 * 0.01)
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, err_msg=variable.path)


def test_unknown_optimizer_is_a_clear_error():
    with pytest.raises(ValueError, match="--optimizer must be one of .*'lamb'.*got 'sgd'"):
        create_optimizer("sgd", 0.1, 10)


def test_clipping_uses_the_unscaled_global_norm():
    gradients = [tf.constant([3.0, 0.0]), tf.constant([[4.0]])]  # global norm 5
    clipped = clipped_replica_gradients(gradients, clip_norm=1.0)
    np.testing.assert_allclose(clipped[0], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped[1], [[0.8]], rtol=1e-6)
    untouched = clipped_replica_gradients(gradients, clip_norm=10.0)
    np.testing.assert_allclose(untouched[1], [[4.0]])
    # Scaled by 1024 (loss scaling): the norm is judged unscaled, the scale is kept for the
    # loss-scale optimizer to remove.
    scaled = clipped_replica_gradients([g * 1024 for g in gradients], 1.0, loss_scale=1024.0)
    np.testing.assert_allclose(scaled[0], [0.6 * 1024, 0.0], rtol=1e-6)
    # Replica summing of the clipped global gradient is checked end to end by the
    # mirrored-equals-one-device test in test_pretraining_loop.py.


def test_lamb_is_keras_lamb_with_the_schedule():
    optimizer = create_optimizer("lamb", 0.00176, num_train_steps=100, num_warmup_steps=10)
    assert isinstance(optimizer, keras.optimizers.Lamb)
    assert optimizer.epsilon == 1e-6 and optimizer.beta_2 == 0.999
    assert float(optimizer.learning_rate) == 0.0  # warmup starts at 0
    optimizer.iterations.assign(5)
    assert float(optimizer.learning_rate) == pytest.approx(0.00176 / 2)
