import numpy as np

from albert_tf.layers import TransformerBlock
from tests.reference import (attention_weights, feed_forward, feed_forward_weights, randomize,
                             self_attention)

SIZES = dict(hidden_size=16, num_attention_heads=2, intermediate_size=32)


def test_block_is_attention_then_feed_forward():
    block = TransformerBlock(**SIZES)
    block.build((None, None, 16))
    randomize(block, seed=5, scale=0.3)
    x = np.random.default_rng(4).normal(size=(2, 6, 16)).astype("float32")
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], "float32")
    expected = feed_forward(
        self_attention(x.astype("float64"), mask, attention_weights(block.attention), 2),
        feed_forward_weights(block.feed_forward))
    np.testing.assert_allclose(block(x, padding_mask=mask).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_blocks_built_around_one_attention_share_only_attention():
    first = TransformerBlock(**SIZES)
    second = TransformerBlock(**SIZES, attention=first.attention)
    for block in (first, second):
        block.build((None, None, 16))
    assert second.attention is first.attention
    assert second.feed_forward is not first.feed_forward
    shared = {id(v) for v in first.weights} & {id(v) for v in second.weights}
    assert shared == {id(v) for v in first.attention.weights}


def test_config_round_trip_gives_an_independent_block():
    first = TransformerBlock(**SIZES, hidden_act="relu")
    second = TransformerBlock(**SIZES, hidden_act="relu", feed_forward=first.feed_forward)
    clone = TransformerBlock.from_config(second.get_config())
    assert clone.get_config() == second.get_config()
    assert clone.feed_forward is not first.feed_forward
