import keras
import numpy as np
import pytest

from albert_tf.layers import AlbertEmbedding, ClassificationHead, MaskedLMHead
from tests.reference import gelu_tanh, layer_norm, randomize


def test_mlm_head_gathers_then_projects_onto_tied_embeddings():
    embedding = AlbertEmbedding(vocab_size=30, embedding_size=6, hidden_size=10,
                                max_position_embeddings=16, type_vocab_size=2)
    embedding.build()
    head = MaskedLMHead(vocab_size=30, embedding_size=6, embedding_layer=embedding)
    head.build((None, None, 10))
    randomize(embedding, seed=6)
    randomize(head, seed=7)
    sequence = np.random.default_rng(5).normal(size=(2, 8, 10)).astype("float32")
    positions = np.array([[1, 5, 0], [7, 2, 2]], "int32")

    gathered = np.stack([sequence[row, positions[row]] for row in range(2)])  # [2, 3, 10]
    transformed = gelu_tanh(gathered @ head.transform.kernel.numpy() + head.transform.bias.numpy())
    normed = layer_norm(transformed, head.layer_norm.gamma.numpy(), head.layer_norm.beta.numpy())
    expected = normed @ embedding.embedding_table.numpy().T + head.output_bias.numpy()

    logits = head(sequence, positions)
    assert logits.dtype == "float32" and tuple(logits.shape) == (2, 3, 30)
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-4, atol=1e-4)
    # Tied: beyond the embedding layer it references, the head owns no [V, E] matrix.
    assert not hasattr(head, "output_embeddings")
    assert head.count_params() - embedding.count_params() == (10 * 6 + 6) + 2 * 6 + 30


def test_untied_mlm_head_owns_its_output_matrix():
    head = MaskedLMHead(vocab_size=30, embedding_size=6)
    head.build((None, None, 10))
    assert tuple(head.output_embeddings.shape) == (30, 6)
    assert head.count_params() == (10 * 6 + 6) + 2 * 6 + 30 * 6 + 30


def test_classification_head_is_dense_on_pooled_output_in_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    head = ClassificationHead(num_classes=3)
    pooled = np.random.default_rng(6).normal(size=(4, 8)).astype("float32")
    logits = head(pooled)
    assert logits.dtype == "float32"
    expected = pooled @ head.dense.kernel.numpy() + head.dense.bias.numpy()
    np.testing.assert_allclose(logits.numpy(), expected, rtol=2e-2, atol=2e-2)  # bf16 matmul


def test_classification_head_rejects_zero_classes():
    with pytest.raises(ValueError, match="num_classes must be at least 1, got 0"):
        ClassificationHead(num_classes=0)


@pytest.mark.parametrize("layer", [
    MaskedLMHead(vocab_size=30, embedding_size=6, hidden_act="relu", layer_norm_eps=1e-7),
    ClassificationHead(num_classes=1, dropout_rate=0.1, initializer_range=0.05),
])
def test_config_round_trip(layer):
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
