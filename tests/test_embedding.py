import numpy as np

from albert_tf.layers import AlbertEmbedding
from tests.reference import layer_norm, randomize


def make_layer(embedding_size=8, hidden_size=16, **kwargs):
    layer = AlbertEmbedding(vocab_size=50, embedding_size=embedding_size, hidden_size=hidden_size,
                            max_position_embeddings=20, type_vocab_size=2, **kwargs)
    layer.build()
    randomize(layer, seed=3)
    return layer


def test_output_matches_reference_sum_layernorm_projection():
    layer = make_layer()
    ids = np.array([[2, 7, 9, 3, 0, 0], [2, 11, 3, 12, 13, 3]], "int32")
    segments = np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], "int32")
    summed = (layer.word_embeddings.embeddings.numpy()[ids]
              + layer.token_type_embeddings.embeddings.numpy()[segments]
              + layer.position_embeddings.numpy()[None, :6])
    normed = layer_norm(summed, layer.layer_norm.gamma.numpy(), layer.layer_norm.beta.numpy())
    expected = normed @ layer.projection.kernel.numpy() + layer.projection.bias.numpy()
    np.testing.assert_allclose(layer(ids, segments).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_factorized_parameter_count_and_no_projection_when_e_equals_h():
    factorized = make_layer(embedding_size=8, hidden_size=16)
    assert factorized.count_params() == 50 * 8 + 20 * 8 + 2 * 8 + 2 * 8 + (8 * 16 + 16)
    full = make_layer(embedding_size=16, hidden_size=16)
    assert full.projection is None
    assert full.count_params() == 50 * 16 + 20 * 16 + 2 * 16 + 2 * 16


def test_layer_norm_epsilon_defaults_to_original_1e_12():
    assert make_layer().layer_norm.epsilon == 1e-12


def test_config_round_trip():
    layer = make_layer(dropout_rate=0.2, layer_norm_eps=1e-6)
    clone = AlbertEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.dropout_rate == 0.2 and clone.layer_norm_eps == 1e-6
