"""The graph packer against the Python fine-tuning path it must equal."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.packing import pack, truncate_longest_first, truncate_longest_first_tf
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece
from albert_tf.export.text_packing import TextPacker
from tests.helpers import UNICODE_TEXTS
from tests.reference import original_truncate_seq_pair
from tests.text_corpus import SYLLABLES, write_corpus


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("packing")
    corpus = write_corpus(folder / "corpus.txt", 60, seed=4)
    with open(corpus, "a", encoding="utf-8") as handle:
        handle.write("\n".join(UNICODE_TEXTS * 3))
    return train_sentencepiece([corpus], str(folder / "spm"), vocab_size=400)


@pytest.fixture
def tokenizer(spm_model):
    # Per test: the autouse seeding clears TF's eager kernel cache, and with it the
    # kernel-owned SentencePiece resource of a tokenizer made in an earlier test.
    return AlbertTokenizer(spm_model)


def test_closed_form_truncation_equals_the_token_by_token_loop():
    pairs = list(itertools.product(range(13), range(13)))
    for budget in range(0, 16):
        ids_a = tf.ragged.constant([list(range(a)) for a, _ in pairs], tf.int32)
        ids_b = tf.ragged.constant([list(range(100, 100 + b)) for _, b in pairs], tf.int32)
        got_a, got_b = truncate_longest_first_tf(ids_a, ids_b, budget)
        for (a, b), row_a, row_b in zip(pairs, got_a.to_list(), got_b.to_list()):
            want_a, want_b = list(range(a)), list(range(100, 100 + b))
            truncate_longest_first(want_a, want_b, budget)
            assert (row_a, row_b) == (want_a, want_b), (a, b, budget)


def test_truncation_is_the_originals_and_the_library_trimmers_are_not():
    """Why packing.py keeps its own truncation: tensorflow-text's ShrinkLongestTrimmer
    breaks ties and odd budgets differently from the original `_truncate_seq_pair`."""
    import tensorflow_text as tf_text

    pairs = list(itertools.product(range(12), range(12)))
    differing = 0
    for budget in range(15):
        wanted = []
        for a, b in pairs:
            want_a, want_b = list(range(a)), list(range(100, 100 + b))
            original_truncate_seq_pair(want_a, want_b, budget)
            got_a, got_b = list(range(a)), list(range(100, 100 + b))
            truncate_longest_first(got_a, got_b, budget)
            assert (got_a, got_b) == (want_a, want_b), (a, b, budget)
            wanted.append((want_a, want_b))
        trimmed_a, trimmed_b = tf_text.ShrinkLongestTrimmer(budget, axis=-1).trim(
            [tf.ragged.constant([list(range(a)) for a, _ in pairs], tf.int64),
             tf.ragged.constant([list(range(100, 100 + b)) for _, b in pairs], tf.int64)])
        differing += sum(got != want for got, want in zip(
            zip(trimmed_a.to_list(), trimmed_b.to_list()), wanted))
    assert differing == 476  # the count packing.py's docstring gives


def sentences(seed, count):
    """Every Unicode sample plus syllable texts of 0 to 60 words, shuffled."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(SYLLABLES, rng.integers(1, 4))) for _ in range(200)]
    pool = UNICODE_TEXTS + [" ".join(rng.choice(words, rng.integers(0, 60)))
                            for _ in range(count)]
    return [pool[i] for i in rng.permutation(len(pool))[:count]]


@pytest.mark.parametrize("max_seq_length", [5, 9, 32])
def test_graph_packing_equals_python_packing(tokenizer, max_seq_length):
    packer = TextPacker(tokenizer, max_seq_length)
    text_a, text_b = sentences(1, 40), sentences(2, 40)
    for pair in (False, True):
        features = packer(tf.constant(text_a), tf.constant(text_b) if pair else None)
        width = features["input_ids"].shape[1]
        assert width <= max_seq_length
        for row, (a, b) in enumerate(zip(text_a, text_b)):
            ids, mask, segments = pack(tokenizer.encode(a), tokenizer.encode(b) if pair else None,
                                       max_seq_length)
            assert sum(mask) <= width and not any(mask[width:])
            assert features["input_ids"][row].numpy().tolist() == ids[:width], (a, b)
            assert features["input_mask"][row].numpy().tolist() == mask[:width]
            assert features["segment_ids"][row].numpy().tolist() == segments[:width]


def test_mismatched_pair_batches_are_a_clear_error(tokenizer):
    packer = TextPacker(tokenizer, 16)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="text_a and text_b must hold the same number of texts"):
        packer(tf.constant(["one", "two"]), tf.constant(["three"]))
    with pytest.raises(ValueError, match="--max_seq_length=4 must be at least 5"):
        TextPacker(tokenizer, 4)
