"""Independent NumPy implementations of ALBERT's maths, for comparing against the model."""

import math

import numpy as np


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def self_attention(x, mask, weights, num_heads, eps=1e-12):
    """weights: dict of numpy arrays q_w,q_b,k_w,k_b,v_w,v_b,o_w,o_b,ln_g,ln_b."""
    batch, seq, hidden = x.shape
    head = hidden // num_heads

    def heads(t):
        return t.reshape(batch, seq, num_heads, head).transpose(0, 2, 1, 3)

    q = heads(x @ weights["q_w"] + weights["q_b"])
    k = heads(x @ weights["k_w"] + weights["k_b"])
    v = heads(x @ weights["v_w"] + weights["v_b"])
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head)
    scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
    context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
    out = context @ weights["o_w"] + weights["o_b"]
    return layer_norm(out + x, weights["ln_g"], weights["ln_b"], eps)


def feed_forward(x, weights, eps=1e-12):
    inner = gelu_tanh(x @ weights["i_w"] + weights["i_b"])
    out = inner @ weights["o_w"] + weights["o_b"]
    return layer_norm(out + x, weights["ln_g"], weights["ln_b"], eps)


def attention_weights(layer):
    return {
        "q_w": layer.query.kernel.numpy(), "q_b": layer.query.bias.numpy(),
        "k_w": layer.key.kernel.numpy(), "k_b": layer.key.bias.numpy(),
        "v_w": layer.value.kernel.numpy(), "v_b": layer.value.bias.numpy(),
        "o_w": layer.output_dense.kernel.numpy(), "o_b": layer.output_dense.bias.numpy(),
        "ln_g": layer.layer_norm.gamma.numpy(), "ln_b": layer.layer_norm.beta.numpy(),
    }


def feed_forward_weights(layer):
    return {
        "i_w": layer.intermediate_dense.kernel.numpy(), "i_b": layer.intermediate_dense.bias.numpy(),
        "o_w": layer.output_dense.kernel.numpy(), "o_b": layer.output_dense.bias.numpy(),
        "ln_g": layer.layer_norm.gamma.numpy(), "ln_b": layer.layer_norm.beta.numpy(),
    }


def randomize(layer, seed=0, scale=0.5):
    """Gives every variable (LayerNorm and biases included) random values, so a reference
    comparison would notice a parameter that is ignored or misplaced."""
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(0.0, scale, variable.shape).astype(variable.dtype))


def original_is_start_piece_sp(piece):
    """google-research/albert create_pretraining_data._is_start_piece_sp, under Python 3
    (where its `€`/`£` entries are bytes and so never match a str piece)."""
    special_pieces = set(list('!"#$%&\"()*+,-./:;?@[\\]^_`{|}~'))
    special_pieces.add("€".encode("utf-8"))
    special_pieces.add("£".encode("utf-8"))
    english_chars = set(list("abcdefghijklmnopqrstuvwxyz"))
    return bool(piece.startswith("▁") or piece.startswith("<") or piece in special_pieces
                or not all([i.lower() in english_chars.union(special_pieces) for i in piece]))


def original_truncate_seq_pair(tokens_a, tokens_b, max_length):
    """google-research/albert's `_truncate_seq_pair` (run_classifier / classifier_utils),
    transcribed: pop from the longer list, from b on a tie, until the pair fits."""
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()
