import numpy as np
import pytest

from albert_tf.layers import SelfAttentionSublayer
from tests.reference import attention_weights, randomize, self_attention


def make_layer(hidden=16, heads=4, **kwargs):
    layer = SelfAttentionSublayer(hidden_size=hidden, num_attention_heads=heads, **kwargs)
    layer.build((None, None, hidden))
    randomize(layer, seed=1, scale=0.3)
    return layer


def test_matches_reference_multi_head_attention_with_padding():
    layer = make_layer()
    x = np.random.default_rng(0).normal(size=(2, 7, 16)).astype("float32")
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3], "float32")
    expected = self_attention(x.astype("float64"), mask, attention_weights(layer), num_heads=4)
    np.testing.assert_allclose(layer(x, padding_mask=mask).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_padded_keys_do_not_change_real_positions():
    layer = make_layer()
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1, 5, 16)).astype("float32")
    padded = np.concatenate([real, rng.normal(size=(1, 3, 16)).astype("float32")], axis=1)
    mask = np.array([[1] * 5 + [0] * 3], "float32")
    short = layer(real, padding_mask=np.ones((1, 5), "float32")).numpy()
    long = layer(padded, padding_mask=mask).numpy()
    np.testing.assert_allclose(long[:, :5], short, rtol=1e-5, atol=1e-6)


def test_attention_dropout_only_in_training():
    layer = make_layer(attention_dropout_rate=0.5)
    x = np.random.default_rng(2).normal(size=(2, 6, 16)).astype("float32")
    inference = [layer(x, training=False).numpy() for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert np.abs(layer(x, training=True).numpy() - inference[0]).max() > 1e-3


def test_heads_must_divide_hidden_size():
    with pytest.raises(ValueError, match=r"hidden_size \(10\) must be divisible by num_attention_heads \(4\)"):
        SelfAttentionSublayer(hidden_size=10, num_attention_heads=4)


def test_config_round_trip():
    layer = make_layer(attention_dropout_rate=0.1, hidden_dropout_rate=0.2)
    assert SelfAttentionSublayer.from_config(layer.get_config()).get_config() == layer.get_config()
