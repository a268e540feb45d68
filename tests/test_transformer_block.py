import numpy as np
import pytest

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


def test_recomputed_activations_give_the_same_output_and_gradients():
    import tensorflow as tf

    block = TransformerBlock(hidden_size=16, num_attention_heads=2, intermediate_size=32)
    states = np.random.default_rng(0).normal(size=(2, 6, 16)).astype("float32")
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], "int32")
    results = {}
    for recompute in (False, True):
        block.recompute_activations = recompute

        @tf.function
        def forward_backward():
            inputs = tf.constant(states)
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = block(inputs, padding_mask=mask, training=True)
                loss = tf.reduce_sum(outputs * outputs)
            return outputs, tape.gradient(loss, [inputs] + block.trainable_variables)

        outputs, gradients = forward_backward()
        results[recompute] = [outputs.numpy()] + [g.numpy() for g in gradients]
    for plain, recomputed in zip(results[False], results[True]):
        np.testing.assert_allclose(recomputed, plain, rtol=1e-5, atol=1e-6)
    assert TransformerBlock.from_config(block.get_config()).recompute_activations
    dropping = TransformerBlock(hidden_size=16, num_attention_heads=2, intermediate_size=32,
                                hidden_dropout_rate=0.1, recompute_activations=True)
    with pytest.raises(ValueError, match="recompute_activations needs hidden and attention "
                                         "dropout at 0"):
        dropping(states, training=True)
