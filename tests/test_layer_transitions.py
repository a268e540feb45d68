"""Layer transitions (the paper's Figure 2) against a NumPy forward pass, the text packing,
and analyze_model.py end to end on checkpoints of every kind it takes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.analysis.layer_transitions import (AnalysisError, batch_sequences,
                                                  check_ids_fit, layer_transitions,
                                                  text_sequences)
from albert_tf.data.sentencepiece_tokenizer import ALBERT_SPECIAL_IDS
from albert_tf.models.encoder import AlbertEncoder
from tests.conftest import encoder_features, random_batch, tiny_config
from tests.helpers import ROOT
from tests.reference import (attention_weights, feed_forward, feed_forward_weights,
                             layer_norm, randomize, self_attention)


def numpy_hidden_states(encoder, features):
    """[embedding output, state after step 1, ...] computed from the weights in NumPy."""
    embeddings = encoder.embeddings
    ids, segments = features["input_ids"], features["segment_ids"]
    x = (embeddings.word_embeddings.embeddings.numpy()[ids]
         + embeddings.token_type_embeddings.embeddings.numpy()[segments]
         + embeddings.position_embeddings.numpy()[None, :ids.shape[1]])
    x = layer_norm(x, embeddings.layer_norm.gamma.numpy(), embeddings.layer_norm.beta.numpy())
    x = x @ embeddings.projection.kernel.numpy() + embeddings.projection.bias.numpy()
    states = [x]
    mask = features["input_mask"].astype(np.float64)
    for block_id in encoder.block_schedule:
        block = encoder.transformer_blocks[block_id]
        x = self_attention(x, mask, attention_weights(block.attention),
                           block.num_attention_heads)
        x = feed_forward(x, feed_forward_weights(block.feed_forward))
        states.append(x)
    return states


def numpy_transitions(encoder, batches):
    l2, cosine, tokens = 0.0, 0.0, 0
    for features in batches:
        states = numpy_hidden_states(encoder, features)
        mask = features["input_mask"].astype(bool)
        before = np.stack(states[:-1])[:, mask]  # [steps, tokens, H]
        after = np.stack(states[1:])[:, mask]
        l2 = l2 + np.linalg.norm(after - before, axis=-1).sum(-1)
        cosine = cosine + ((before * after).sum(-1) / (
            np.linalg.norm(before, axis=-1) * np.linalg.norm(after, axis=-1))).sum(-1)
        tokens += mask.sum()
    return l2 / tokens, cosine / tokens, tokens


@pytest.mark.parametrize("overrides", [
    dict(num_hidden_layers=3),
    dict(num_hidden_layers=3, sharing="none"),
    dict(num_hidden_layers=2, inner_group_num=2),
])
def test_transitions_match_a_numpy_forward_pass_over_real_tokens(overrides):
    config = tiny_config(**overrides)
    encoder = AlbertEncoder(config)
    randomize(encoder, seed=3, scale=0.2)
    first = encoder_features(random_batch(config, batch=3, seq=12, seed=1))
    second = encoder_features(random_batch(config, batch=2, seq=9, seed=2))
    result = layer_transitions(encoder, [first, second])
    l2, cosine, tokens = numpy_transitions(encoder, [first, second])
    steps = config.num_hidden_layers * config.inner_group_num
    assert len(result.l2_distance) == len(result.cosine_similarity) == steps
    assert result.tokens == tokens == first["input_mask"].sum() + second["input_mask"].sum()
    assert result.sequences == 5
    np.testing.assert_allclose(result.l2_distance, l2, rtol=2e-4)
    np.testing.assert_allclose(result.cosine_similarity, cosine, rtol=2e-4, atol=2e-5)
    assert [row["layer"] for row in result.as_rows()] == list(range(1, steps + 1))


def test_padding_does_not_change_the_numbers():
    config = tiny_config(num_hidden_layers=3)
    encoder = AlbertEncoder(config)
    randomize(encoder, seed=4, scale=0.2)
    sequences = [[2, 7, 8, 9, 3], [2, 10, 11, 3]]
    short = layer_transitions(encoder, batch_sequences(sequences, batch_size=2))
    padded = layer_transitions(encoder, batch_sequences(sequences + [[2] + [12] * 20 + [3]],
                                                        batch_size=1))
    alone = layer_transitions(encoder, batch_sequences(sequences, batch_size=1))
    np.testing.assert_allclose(short.l2_distance, alone.l2_distance, rtol=1e-5)
    assert padded.tokens == short.tokens + 22


class WordTokenizer:
    """One id per word (ids from 10), ALBERT's special ids."""

    special_ids = ALBERT_SPECIAL_IDS

    def encode(self, text):
        return [10 + len(word) for word in text.split()]


def test_text_is_cut_into_cls_sep_sequences_within_documents():
    documents = [["a bb ccc", "dddd e"], ["ff ggg"]]
    sequences = list(text_sequences(documents, WordTokenizer(), max_seq_length=5,
                                    max_sequences=10))
    assert sequences == [[2, 11, 12, 13, 3], [2, 14, 11, 3], [2, 12, 13, 3]]
    assert len(list(text_sequences(documents, WordTokenizer(), 5, max_sequences=2))) == 2
    batch = next(batch_sequences(sequences, batch_size=3, pad_id=0))
    assert batch["input_ids"].tolist() == [[2, 11, 12, 13, 3], [2, 14, 11, 3, 0],
                                           [2, 12, 13, 3, 0]]
    assert batch["input_mask"].sum(1).tolist() == [5, 4, 4]
    with pytest.raises(AnalysisError, match="records.txt: token id 40 is outside the model's "
                                            "vocabulary of 30"):
        list(check_ids_fit([{"input_ids": np.array([[2, 40]])}], 30, "records.txt"))
    with pytest.raises(AnalysisError, match="no token"):
        layer_transitions(AlbertEncoder(tiny_config()), [])


def analyze(*arguments):
    return subprocess.run([sys.executable, os.path.join(ROOT, "analyze_model.py"),
                           *arguments], capture_output=True, text=True, cwd=ROOT)


def test_script_compares_checkpoints_and_matches_the_library(assets, tmp_path):
    folder, spm_model, config = assets
    text = tmp_path / "text.txt"
    text.write_text("The first document has two sentences.\nHere is the second one.\n\n"
                    "Another document, short.\n")
    result = analyze(f"--init_checkpoint={folder}/encoder/encoder,{folder}/classifier/model",
                     "--labels=encoder,classifier", f"--input_file={text}",
                     f"--albert_config_file={folder}/albert_config.json",
                     f"--spm_model_file={spm_model}", "--max_seq_length=16",
                     f"--output_dir={tmp_path}/out")
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out" / "layer_transitions.json").read_text())
    assert list(written["models"]) == ["encoder", "classifier"]
    png = (tmp_path / "out" / "layer_transitions.png").read_bytes()
    assert png.startswith(b"\x89PNG")

    from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer
    from albert_tf.export.saved_model import load_serving_model

    tokenizer = AlbertTokenizer(spm_model)
    documents = [["The first document has two sentences.", "Here is the second one."],
                 ["Another document, short."]]
    for label, prefix in (("encoder", "encoder/encoder"), ("classifier", "classifier/model")):
        encoder = load_serving_model(config, str(folder / prefix), None)
        expected = layer_transitions(encoder, batch_sequences(
            text_sequences(documents, tokenizer, 16, 512), 32))
        model = written["models"][label]
        assert model["tokens"] == expected.tokens
        assert model["sequences"] == expected.sequences >= 3  # documents are never joined
        np.testing.assert_allclose([row["l2_distance"] for row in model["layers"]],
                                   expected.l2_distance, rtol=1e-5)
        np.testing.assert_allclose([row["cosine_similarity"] for row in model["layers"]],
                                   expected.cosine_similarity, rtol=1e-5)


# The script's refusals (no text, wrong label count, no checkpoint, no config, no
# tokenizer, bad counts, records without a manifest, a length beyond the model) are cases
# of the bad-input matrix (tests/test_bad_inputs.py), run in one process.


def test_records_are_read_with_their_manifest_lengths(tmp_path):
    from albert_tf.analysis.layer_transitions import record_batches

    features = {"input_ids": [2, 5, 6, 3, 0, 0], "input_mask": [1, 1, 1, 1, 0, 0],
                "segment_ids": [0, 0, 0, 1, 0, 0], "masked_lm_positions": [1, 0],
                "masked_lm_ids": [5, 0], "next_sentence_labels": [0]}
    path = str(tmp_path / "records.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(5):
            example = tf.train.Example(features=tf.train.Features(feature={
                name: tf.train.Feature(int64_list=tf.train.Int64List(value=values))
                for name, values in features.items()} | {
                "masked_lm_weights": tf.train.Feature(
                    float_list=tf.train.FloatList(value=[1.0, 0.0]))}))
            writer.write(example.SerializeToString())
    batches = list(record_batches([path], 6, 2, batch_size=2, max_sequences=3))
    assert [len(batch["input_ids"]) for batch in batches] == [2, 1]
    assert batches[0]["input_ids"][0].tolist() == features["input_ids"]
