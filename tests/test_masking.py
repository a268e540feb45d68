import numpy as np
import pytest

from albert_tf.data.masking import mask_sequences, mask_tokens, ngram_probabilities, word_groups
from albert_tf.data.sentencepiece_tokenizer import CLS_ID, MASK_ID, SEP_ID

VOCAB = 1000


def every_token_a_word(ids):
    return np.ones(len(ids), np.int64)


def even_ids_start_words(ids):
    return (np.asarray(ids) % 2 == 0).astype(np.int64)


def sequence(rng, length):
    ids = rng.integers(5, VOCAB, size=length).tolist()
    ids[0], ids[length // 2], ids[-1] = CLS_ID, SEP_ID, SEP_ID
    return ids


def test_masked_fraction_and_80_10_10_replacement():
    rng = np.random.default_rng(0)
    counts, replacements = [], []
    for _ in range(400):
        ids = sequence(rng, 128)
        out = mask_tokens(ids, rng, every_token_a_word(ids), VOCAB, masked_lm_prob=0.15,
                          max_predictions=20)
        counts.append(len(out.positions))
        replacements.extend(out.replacements)
        for position, replacement, label in zip(out.positions, out.replacements, out.labels):
            assert label == ids[position]
            if replacement == 0:
                assert out.input_ids[position] == MASK_ID
            elif replacement == 1:
                assert out.input_ids[position] == ids[position]
            else:
                assert 5 <= out.input_ids[position] < VOCAB
        unmasked = set(range(128)) - set(out.positions)
        assert all(out.input_ids[p] == ids[p] for p in unmasked)
    assert abs(np.mean(counts) / 128 - 0.15) < 0.01  # round(128 * 0.15) = 19
    shares = np.bincount(replacements, minlength=3) / len(replacements)
    np.testing.assert_allclose(shares, [0.8, 0.1, 0.1], atol=0.015)


@pytest.mark.parametrize("favor_shorter, expected", [(True, [6 / 11, 3 / 11, 2 / 11]),
                                                     (False, [2 / 11, 3 / 11, 6 / 11])])
def test_ngram_length_histogram(favor_shorter, expected):
    np.testing.assert_allclose(ngram_probabilities(3, favor_shorter), expected)
    rng = np.random.default_rng(1)
    lengths = []
    for _ in range(300):
        ids = sequence(rng, 512)
        out = mask_tokens(ids, rng, every_token_a_word(ids), VOCAB,
                          masked_lm_prob=0.15, max_predictions=80,
                          favor_shorter_ngram=favor_shorter)
        lengths.extend(out.ngram_lengths)
    histogram = np.bincount(lengths, minlength=4)[1:] / len(lengths)
    # The last span of a sequence is shortened to fit the prediction budget (as in the
    # original), which moves up to ~0.03 of the mass to shorter n; a uniform or reversed
    # draw would be off by more than 0.15.
    np.testing.assert_allclose(histogram, expected, atol=0.04)


def test_never_masks_cls_or_sep_and_respects_the_cap():
    rng = np.random.default_rng(2)
    for _ in range(200):
        ids = sequence(rng, 64)
        out = mask_tokens(ids, rng, every_token_a_word(ids), VOCAB, masked_lm_prob=0.5,
                          max_predictions=7)
        assert len(out.positions) == 7
        assert all(ids[p] not in (CLS_ID, SEP_ID) for p in out.positions)
        assert out.positions.tolist() == sorted(set(out.positions.tolist()))


def test_whole_words_are_masked_together():
    rng = np.random.default_rng(3)
    for _ in range(200):
        ids = sequence(rng, 96)
        words = word_groups(ids, even_ids_start_words(ids))
        out = mask_tokens(ids, rng, even_ids_start_words(ids), VOCAB, max_predictions=30)
        chosen = set(out.positions)
        for word in words:
            assert chosen.isdisjoint(word) or chosen.issuperset(word), word


def test_word_groups_join_continuation_pieces_and_stop_at_separators():
    ids = [CLS_ID, 10, 11, 13, 12, SEP_ID, 15, 14, SEP_ID]
    assert word_groups(ids, even_ids_start_words(ids)) == [[1, 2, 3], [4], [6], [7]]
    assert word_groups(ids, even_ids_start_words(ids), whole_word=False) == [
        [1], [2], [3], [4], [6], [7]]


def test_same_seed_same_masks():
    ids = sequence(np.random.default_rng(4), 128)

    def run(seed):
        out = mask_tokens(ids, np.random.default_rng(seed), every_token_a_word(ids), VOCAB)
        return out.input_ids.tolist(), out.positions.tolist()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_word_spans_match_a_per_token_walk():
    """The vectorized grouping against the obvious loop, on random boundaries and ids."""
    rng = np.random.default_rng(7)
    for _ in range(100):
        ids = sequence(rng, int(rng.integers(3, 40)))
        boundary = rng.integers(0, 2, size=len(ids))
        expected, continues = [], False
        for position, token_id in enumerate(ids):
            if token_id in (CLS_ID, SEP_ID):
                continues = False
                continue
            if continues and not boundary[position]:
                expected[-1].append(position)
            else:
                expected.append([position])
            continues = True
        assert word_groups(ids, boundary) == expected


def test_spans_shortened_at_the_end_keep_the_truncated_distribution():
    """Two words only: a start on the last word must give n=1; on the first, n in {1, 2}
    with p proportional to 1, 1/2, i.e. 2/3 and 1/3."""
    rng = np.random.default_rng(8)
    lengths = []
    for _ in range(3000):
        out = mask_tokens([CLS_ID, 10, 11, SEP_ID], rng, [1, 1, 1, 1], VOCAB,
                          masked_lm_prob=1.0, max_predictions=2)
        lengths.append(out.ngram_lengths.tolist())
    first_spans = [span[0] for span in lengths]
    # Start on word 0 (p=1/2) and draw n=2 (p=1/3): one span; otherwise two spans of 1.
    share_single_span = np.mean([len(span) == 1 for span in lengths])
    assert abs(share_single_span - 0.5 * (1 / 3)) < 0.03, share_single_span
    assert set(first_spans) <= {1, 2}


def test_a_batch_masks_each_sequence_by_the_single_sequence_rules():
    rng = np.random.default_rng(9)
    sequences = [sequence(rng, int(rng.integers(5, 120))) for _ in range(50)]
    boundaries = [even_ids_start_words(ids) for ids in sequences]
    results = mask_sequences(sequences, boundaries, rng, VOCAB, max_predictions=12)
    for ids, boundary, out in zip(sequences, boundaries, results):
        budget = min(12, max(1, round(len(ids) * 0.15)))
        assert len(out.input_ids) == len(ids) and len(out.positions) <= budget
        assert ((0 <= out.positions) & (out.positions < len(ids))).all()
        np.testing.assert_array_equal(out.labels, np.asarray(ids)[out.positions])
        chosen = set(out.positions.tolist())
        for word in word_groups(ids, boundary):
            assert chosen.isdisjoint(word) or chosen.issuperset(word)
        untouched = np.setdiff1d(np.arange(len(ids)), out.positions)
        np.testing.assert_array_equal(out.input_ids[untouched], np.asarray(ids)[untouched])
        assert len(out.ngram_lengths) <= len(out.drawn_ngram_lengths)
