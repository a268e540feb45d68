import numpy as np

from albert_tf.layers import FeedForwardSublayer
from tests.reference import feed_forward, feed_forward_weights, randomize


def test_matches_reference_with_tanh_gelu_and_post_layernorm():
    layer = FeedForwardSublayer(hidden_size=8, intermediate_size=24)
    layer.build((None, None, 8))
    randomize(layer, seed=4)
    x = np.random.default_rng(3).normal(size=(2, 5, 8)).astype("float32")
    expected = feed_forward(x.astype("float64"), feed_forward_weights(layer))
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_parameter_count():
    layer = FeedForwardSublayer(hidden_size=8, intermediate_size=24)
    layer.build((None, None, 8))
    assert layer.count_params() == (8 * 24 + 24) + (24 * 8 + 8) + 2 * 8


def test_config_round_trip():
    layer = FeedForwardSublayer(hidden_size=8, intermediate_size=24, hidden_act="relu",
                                dropout_rate=0.3, layer_norm_eps=1e-5)
    clone = FeedForwardSublayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.hidden_act == "relu"
