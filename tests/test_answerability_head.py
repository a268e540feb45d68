"""The SQuAD v2.0 head against the original run_squad_v2 maths, written in NumPy."""

import numpy as np

from albert_tf.layers.answerability_head import AnswerabilitySpanHead
from tests.reference import layer_norm, softmax


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def original_v2(head, sequence, p_mask, start_n_top, end_n_top):
    """create_v2_model's inference branch and answer class, over the head's weights."""
    w = {layer.name: [v.numpy().astype("float64") for v in layer.weights]
         for layer in (head.start_dense, head.end_dense_0, head.end_layer_norm,
                       head.end_dense_1, head.answer_dense_0, head.answer_dense_1)}
    x = sequence.astype("float64")
    start = (x @ w["start_logits"][0] + w["start_logits"][1])[..., 0]
    start = start * (1 - p_mask) - 1e30 * p_mask
    start_log_probs = log_softmax(start)
    top_start = np.argsort(-start_log_probs, axis=-1, kind="stable")[:, :start_n_top]
    outputs = {"start_top_index": top_start,
               "start_top_log_probs": np.take_along_axis(start_log_probs, top_start, -1)}
    ends, end_probs = [], []
    for b in range(x.shape[0]):
        for k in top_start[b]:
            joined = np.concatenate([x[b], np.repeat(x[b, k][None], x.shape[1], 0)], -1)
            hidden = np.tanh(joined @ w["end_logits_dense_0"][0] + w["end_logits_dense_0"][1])
            hidden = layer_norm(hidden, *w["end_logits_LayerNorm"])
            logits = (hidden @ w["end_logits_dense_1"][0] + w["end_logits_dense_1"][1])[:, 0]
            logits = log_softmax(logits * (1 - p_mask[b]) - 1e30 * p_mask[b])
            top = np.argsort(-logits, kind="stable")[:end_n_top]
            ends.append(top)
            end_probs.append(logits[top])
    outputs["end_top_index"] = np.array(ends).reshape(x.shape[0], -1)
    outputs["end_top_log_probs"] = np.array(end_probs).reshape(x.shape[0], -1)
    start_feature = np.einsum("bsh,bs->bh", x, softmax(start))
    answer = np.tanh(np.concatenate([start_feature, x[:, 0]], -1) @ w["answer_class_dense_0"][0]
                     + w["answer_class_dense_0"][1])
    outputs["cls_logits"] = (answer @ w["answer_class_dense_1"][0])[:, 0]
    return outputs


def test_inference_matches_the_original_maths():
    rng = np.random.default_rng(0)
    head = AnswerabilitySpanHead(hidden_size=16, start_n_top=3, end_n_top=2, dropout_rate=0.1,
                                 initializer_range=0.5)
    sequence = rng.normal(size=(2, 9, 16)).astype("float32")
    p_mask = np.zeros((2, 9), "float32")
    p_mask[:, 1:4] = 1  # the question
    p_mask[1, 7:] = 1  # padding
    got = {name: np.asarray(value) for name, value in head(sequence, p_mask).items()}
    want = original_v2(head, sequence, p_mask, 3, 2)
    for name in ("start_top_index", "end_top_index"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    for name in ("start_top_log_probs", "end_top_log_probs", "cls_logits"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)
    assert not np.isin(got["start_top_index"], [1, 2, 3]).any()  # never in the question
    # Training: the end logits are conditioned on the gold start.
    train = head(sequence, p_mask, start_positions=np.array([5, 4]))
    gold = original_v2(head, sequence, p_mask, 9, 9)  # every start, every end
    for b, start in enumerate([5, 4]):
        k = list(gold["start_top_index"][b]).index(start)
        order = gold["end_top_index"][b, k * 9:(k + 1) * 9]
        logits = np.asarray(train["end_logits"][b])
        valid = p_mask[b] == 0
        np.testing.assert_allclose(log_softmax(logits)[order][valid[order]],
                                   gold["end_top_log_probs"][b, k * 9:(k + 1) * 9][valid[order]],
                                   rtol=1e-4, atol=1e-4)
