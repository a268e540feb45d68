"""Sub-batches by length in the raw-text signatures: the same outputs as the whole request
padded to its longest, on SST-2 and ChnSentiCorp dev text, in the request's order."""

import os

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.glue import get_task
from albert_tf.export.saved_model import ExportError, ServingModule
from albert_tf.export.sub_batches import run_by_length
from albert_tf.models import AlbertClassifier, AlbertEncoder
from tests.conftest import SHARED_DATA
from tests.reference import randomize


def dev_texts(task_name, *folder):
    path = os.path.join(SHARED_DATA, *folder)
    if not os.path.exists(os.path.join(path, "dev.tsv")):
        pytest.skip(f"{path} is not in ../shared/data")
    return [example.text_a for example in get_task(task_name).read(path, "dev")]


def config_for(vocab_size):
    return AlbertConfig(vocab_size=vocab_size, embedding_size=16, hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=128, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)


def both_ways(make_module, texts, batch=32):
    """(whole-request outputs, sub-batched outputs) of every text, batch by batch."""
    whole = tf.function(make_module(0).serve_text)
    by_length = tf.function(make_module(8).serve_text)
    results = ([], [])
    for start in range(0, len(texts), batch):
        request = tf.constant(texts[start:start + batch])
        for function, outputs in zip((whole, by_length), results):
            outputs.append({name: value.numpy() for name, value in function(request).items()})
    return results


def test_a_classifier_answers_sst2_dev_as_with_the_whole_request_padded(assets):
    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer

    _, spm_model, _ = assets
    tokenizer = AlbertTokenizer(spm_model)
    texts = dev_texts("SST-2", "glue", "SST-2")
    model = AlbertClassifier(config_for(tokenizer.vocab_size), 2, dropout_rate=0.0)
    randomize(model, seed=3, scale=0.2)
    whole, by_length = both_ways(
        lambda size: ServingModule(model, tokenizer, 128, ["0", "1"], sub_batch_size=size),
        texts)
    for a, b in zip(whole, by_length):
        np.testing.assert_allclose(b["logits"], a["logits"], atol=1e-5)
        np.testing.assert_allclose(b["probabilities"], a["probabilities"], atol=1e-5)
        assert (a["label"] == b["label"]).all()
    assert sum(len(a["logits"]) for a in whole) == len(texts)

    # serve_ids: requests padded to max_seq_length, as clients often send them.
    whole_ids, by_length_ids = (tf.function(ServingModule(
        model, tokenizer, 128, ["0", "1"], sub_batch_size=size).serve_ids) for size in (0, 8))
    packer = ServingModule(model, tokenizer, 128, ["0", "1"]).packer
    for start in range(0, 96, 32):
        features = packer(tf.constant(texts[start:start + 32]))
        padded = {name: tf.pad(value, [[0, 0], [0, 128 - value.shape[1]]])
                  for name, value in features.items()}
        np.testing.assert_allclose(by_length_ids(**padded)["logits"],
                                   whole_ids(**padded)["logits"], atol=1e-5)
        np.testing.assert_allclose(by_length_ids(**padded)["logits"],
                                   whole[start // 32]["logits"], atol=1e-5)


def test_an_encoder_encodes_chnsenticorp_dev_as_with_the_whole_request_padded():
    from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer

    vocab = os.path.join(SHARED_DATA, "chinese", "vocab.txt")
    if not os.path.exists(vocab):
        pytest.skip("the Chinese vocab.txt is not in ../shared/data")
    tokenizer = WordPieceTokenizer(vocab)
    texts = dev_texts("ChnSentiCorp", "chnsenticorp")[:256]
    encoder = AlbertEncoder(config_for(tokenizer.vocab_size))
    randomize(encoder, seed=4, scale=0.2)
    whole, by_length = both_ways(
        lambda size: ServingModule(encoder, tokenizer, 128, sub_batch_size=size), texts)
    packer = ServingModule(encoder, tokenizer, 128).packer
    for start, (a, b) in enumerate(zip(whole, by_length)):
        mask = packer(tf.constant(texts[start * 32:start * 32 + 32]))["input_mask"].numpy()
        real = mask.astype(bool)
        np.testing.assert_allclose(b["pooled_output"], a["pooled_output"], atol=1e-5)
        np.testing.assert_allclose(b["sequence_output"][real], a["sequence_output"][real],
                                   atol=1e-5)
        assert b["sequence_output"].shape == a["sequence_output"].shape
        # Past each row's sub-batch width (a multiple of 16, or the request's): zeros.
        row_width = (np.abs(b["sequence_output"]).sum(-1) > 0).sum(1)
        assert (row_width >= mask.sum(1)).all()
        assert ((row_width % 16 == 0) | (row_width == mask.shape[1])).all()


def test_sub_batches_keep_the_order_and_cut_each_to_its_own_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, 11)
    mask = (np.arange(40)[None, :] < lengths[:, None]).astype("int32")
    features = {"input_mask": tf.constant(mask),
                "input_ids": tf.constant(mask * (np.arange(11)[:, None] + 1))}
    def run(chunk):
        return {"row": chunk["input_ids"][:, 0],
                "width": tf.fill([tf.shape(chunk["input_ids"])[0]],
                                 tf.shape(chunk["input_ids"])[1]),
                "sequence": tf.cast(chunk["input_mask"], tf.float32)}

    outputs = tf.function(lambda f: run_by_length(run, f, 3, 8, ("sequence",)))(features)
    np.testing.assert_array_equal(outputs["row"], np.arange(11) + 1)
    widths = outputs["width"].numpy()
    assert ((widths % 8 == 0) | (widths == 40)).all() and (widths >= lengths).all()
    np.testing.assert_array_equal(outputs["sequence"], mask)
    # Sub-batches are runs of the rows sorted by length: each one's rows share a width.
    order = np.argsort(lengths, kind="stable")
    for chunk in range(4):
        rows = order[chunk * 3:chunk * 3 + 3]
        assert (widths[rows] == widths[rows[0]]).all()


def test_a_row_keeps_every_unmasked_position_of_a_mask_with_holes():
    mask = np.zeros([9, 40], "int32")
    mask[:, :3] = 1
    mask[4, 37] = 1  # a hole before the last unmasked position
    features = {"input_mask": tf.constant(mask)}

    def widths(chunk):
        return {"width": tf.fill([tf.shape(chunk["input_mask"])[0]],
                                 tf.shape(chunk["input_mask"])[1]),
                "kept": tf.reduce_sum(chunk["input_mask"], axis=1)}

    outputs = tf.function(lambda f: run_by_length(widths, f, 4, 1, min_width=5))(features)
    np.testing.assert_array_equal(outputs["kept"], mask.sum(1))
    # Rows of 3 positions are cut no narrower than min_width; the row with a hole at 38.
    np.testing.assert_array_equal(outputs["width"], [5] * 4 + [38] + [5] * 4)


def test_a_request_smaller_than_a_sub_batch_is_not_filled_up():
    mask = np.array([[1, 1, 0], [1, 1, 1]], "int32")

    def rows(chunk):
        count = tf.shape(chunk["input_mask"])[0]
        return {"rows": tf.fill([count], count)}

    outputs = tf.function(lambda f: run_by_length(rows, f, 8, 16))({"input_mask": mask})
    np.testing.assert_array_equal(outputs["rows"], [2, 2])


def test_an_empty_request_and_bad_settings(assets):
    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer

    _, spm_model, config = assets
    tokenizer = AlbertTokenizer(spm_model)
    module = ServingModule(AlbertClassifier(config, 2), tokenizer, 32, ["a", "b"],
                           sub_batch_size=4)
    outputs = tf.function(module.serve_text)(tf.constant([], tf.string))
    assert outputs["logits"].shape == (0, 2)
    with pytest.raises(ExportError, match="sub_batch_size=-1 must be 0"):
        ServingModule(AlbertClassifier(config, 2), tokenizer, 32, ["a", "b"],
                      sub_batch_size=-1)
