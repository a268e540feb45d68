import keras
import numpy as np
import pytest

from albert_tf.models import AlbertEncoder, build_transformer_schedule
from tests.conftest import encoder_features, random_batch, tiny_config

# (sharing, num_hidden_layers, num_hidden_groups, inner_group_num)
STRUCTURES = [
    ("all", 4, 1, 1), ("all", 4, 2, 1), ("all", 4, 1, 2), ("all", 4, 2, 2), ("all", 4, 4, 1),
    ("attention", 4, 1, 1), ("attention", 4, 2, 2),
    ("ffn", 4, 1, 1), ("ffn", 4, 2, 1),
    ("none", 4, 1, 1), ("none", 4, 1, 2), ("none", 4, 4, 1),
]


def distinct_counts(sharing, layers, groups, inner):
    """(distinct attention halves, distinct ffn halves, distinct blocks) by construction."""
    shared, unshared = groups * inner, layers * inner
    attention = shared if sharing in ("all", "attention") else unshared
    ffn = shared if sharing in ("all", "ffn") else unshared
    blocks = shared if sharing == "all" else unshared
    return attention, ffn, blocks


@pytest.mark.parametrize("sharing, layers, groups, inner", STRUCTURES)
def test_shapes_and_sharing_structure(sharing, layers, groups, inner):
    config = tiny_config(sharing=sharing, num_hidden_layers=layers, num_hidden_groups=groups,
                         inner_group_num=inner)
    encoder = AlbertEncoder(config)
    batch = random_batch(config, batch=3, seq=10)
    outputs = encoder(encoder_features(batch))
    assert tuple(outputs["sequence_output"].shape) == (3, 10, config.hidden_size)
    assert tuple(outputs["pooled_output"].shape) == (3, config.hidden_size)
    assert len(outputs["encoder_outputs"]) == layers * inner
    np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])

    attention, ffn, blocks = distinct_counts(sharing, layers, groups, inner)
    assert len(encoder.transformer_blocks) == blocks
    assert len({id(b.attention) for b in encoder.transformer_blocks}) == attention
    assert len({id(b.feed_forward) for b in encoder.transformer_blocks}) == ffn


def test_schedule_uses_group_of_each_layer_then_inner_blocks():
    config = tiny_config(num_hidden_layers=6, num_hidden_groups=3, inner_group_num=2)
    blocks, schedule = build_transformer_schedule(config)
    # layer l runs group int(l * 3 / 6), inner blocks 0 then 1: groups 0,0,1,1,2,2
    assert schedule == [0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5]
    assert len(blocks) == 6


def test_all_shared_encoder_runs_one_block_repeatedly():
    config = tiny_config(num_hidden_layers=3)
    encoder = AlbertEncoder(config)
    batch = encoder_features(random_batch(config, batch=2, seq=7))
    outputs = encoder(batch)
    block = encoder.transformer_blocks[0]
    hidden = encoder.embeddings(batch["input_ids"], batch["segment_ids"])
    for step in range(3):
        hidden = block(hidden, padding_mask=batch["input_mask"])
        np.testing.assert_allclose(outputs["encoder_outputs"][step], hidden, rtol=1e-5, atol=1e-5)
    pooled = np.tanh(hidden.numpy()[:, 0] @ encoder.pooler.kernel.numpy() + encoder.pooler.bias.numpy())
    np.testing.assert_allclose(outputs["pooled_output"], pooled, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sharing", ["all", "none"])
def test_padding_does_not_change_real_token_outputs(sharing):
    config = tiny_config(sharing=sharing)
    encoder = AlbertEncoder(config)
    rng = np.random.default_rng(8)
    ids = np.concatenate([[2], rng.integers(5, 1000, 6), [3]]).astype("int32")[None]  # 8 real
    short = encoder({"input_ids": ids, "input_mask": np.ones_like(ids),
                     "segment_ids": np.zeros_like(ids)})
    padded_ids = np.concatenate([ids, rng.integers(5, 1000, (1, 5)).astype("int32")], axis=1)
    mask = np.concatenate([np.ones_like(ids), np.zeros((1, 5), "int32")], axis=1)
    segments = np.concatenate([np.zeros_like(ids), np.ones((1, 5), "int32")], axis=1)
    long = encoder({"input_ids": padded_ids, "input_mask": mask, "segment_ids": segments})
    np.testing.assert_allclose(long["sequence_output"][:, :8], short["sequence_output"],
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(long["pooled_output"], short["pooled_output"], rtol=1e-5, atol=1e-5)


def test_same_seed_same_model_different_seed_different_model():
    config = tiny_config()
    batch = encoder_features(random_batch(config))

    def pooled(seed):
        keras.utils.set_random_seed(seed)
        return AlbertEncoder(config)(batch)["pooled_output"].numpy()

    np.testing.assert_array_equal(pooled(7), pooled(7))
    assert np.abs(pooled(7) - pooled(8)).max() > 1e-3


def test_dropout_is_active_only_in_training():
    config = tiny_config(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    encoder = AlbertEncoder(config)
    batch = encoder_features(random_batch(config))
    first, second = (encoder(batch, training=False)["sequence_output"] for _ in range(2))
    np.testing.assert_array_equal(first, second)
    trained = encoder(batch, training=True)["sequence_output"]
    assert np.abs(trained.numpy() - first.numpy()).max() > 1e-3


def test_missing_input_feature_is_a_clear_error():
    encoder = AlbertEncoder(tiny_config())
    batch = encoder_features(random_batch(tiny_config()))
    del batch["segment_ids"]
    with pytest.raises(ValueError, match='Missing data for input "segment_ids"'):
        encoder(batch)
