import numpy as np
import pytest

from albert_tf.data.segment_pairs import (PairingStats, segment_pairs_from_document,
                                          truncate_pair)


def make_document(rng, start, sentences=12):
    """Sentences of consecutive ids, so the original order of any token is its value."""
    document, next_id = [], start
    for _ in range(sentences):
        length = int(rng.integers(3, 12))
        document.append(list(range(next_id, next_id + length)))
        next_id += length
    return document


def test_sop_pairs_are_consecutive_text_swapped_half_the_time():
    rng = np.random.default_rng(0)
    labels = []
    for doc_index in range(300):
        document = make_document(rng, 1000 * doc_index + 5)
        # 12 sentences of at most 11 tokens fit in 200: one chunk, never truncated.
        for pair in segment_pairs_from_document(document, 200, rng, short_seq_prob=0.0):
            first, second = ((pair.tokens_b, pair.tokens_a) if pair.label
                             else (pair.tokens_a, pair.tokens_b))
            # Untruncated, so the unswapped A+B is a contiguous slice of the document.
            joined = first + second
            assert joined == list(range(joined[0], joined[0] + len(joined)))
            labels.append(pair.label)
    assert len(labels) == 300
    assert abs(np.mean(labels) - 0.5) < 0.07


def test_lengths_fit_and_short_targets_appear():
    rng = np.random.default_rng(1)
    lengths = []
    for doc_index in range(200):
        document = make_document(rng, 5, sentences=40)
        for pair in segment_pairs_from_document(document, 32, rng, short_seq_prob=0.3):
            assert pair.tokens_a and pair.tokens_b
            lengths.append(len(pair.tokens_a) + len(pair.tokens_b))
    assert max(lengths) <= 29
    assert np.mean(np.array(lengths) < 20) > 0.1  # short_seq_prob produced shorter pairs


def test_single_sentence_chunks_pair_with_another_document_as_in_the_original():
    rng = np.random.default_rng(2)
    others = [make_document(rng, 1_000_000 + 1000 * i) for i in range(5)]
    stats = PairingStats()
    pairs = segment_pairs_from_document([[5, 6, 7]], 32, rng, other_documents=others,
                                        stats=stats)
    assert len(pairs) == 1 and pairs[0].label == 1 and pairs[0].tokens_a == [5, 6, 7]
    assert min(pairs[0].tokens_b) >= 1_000_000
    assert stats.single_sentence_chunks == 1 and stats.single_sentence_chunks_skipped == 0
    # On request (or with no other document to draw from) they are skipped and counted.
    for kwargs in ({"other_documents": others, "skip_single_sentence_chunks": True}, {}):
        stats = PairingStats()
        assert segment_pairs_from_document([[5, 6, 7]], 32, rng, stats=stats, **kwargs) == []
        assert stats.single_sentence_chunks_skipped == 1 and stats.pairs == 0


def test_the_short_target_is_drawn_once_per_document():
    """The original draws target_seq_length once per document: with one-token sentences
    every chunk but the last of a document then has exactly that length."""
    rng = np.random.default_rng(9)
    document = [[i] for i in range(5, 500)]
    targets = set()
    for _ in range(50):
        pairs = segment_pairs_from_document(document, 64, rng, short_seq_prob=1.0)
        lengths = {len(p.tokens_a) + len(p.tokens_b) for p in pairs[:-1]}
        assert len(lengths) == 1
        targets |= lengths
    assert len(targets) > 10  # and it does vary from document to document


def test_nsp_takes_b_from_another_document_half_the_time():
    rng = np.random.default_rng(3)
    others = [make_document(rng, 1_000_000 + 1000 * i) for i in range(20)]
    labels = []
    for doc_index in range(200):
        document = make_document(rng, 1000 * doc_index + 5)
        for pair in segment_pairs_from_document(document, 200, rng, short_seq_prob=0.0,
                                                random_next_sentence=True, other_documents=others):
            from_other = min(pair.tokens_b) >= 1_000_000
            assert from_other == bool(pair.label)
            if not pair.label:
                assert pair.tokens_a[-1] + 1 == pair.tokens_b[0]  # true next segment
            labels.append(pair.label)
    assert abs(np.mean(labels) - 0.5) < 0.08


def test_truncate_pair_trims_the_longer_segment_first():
    a, b = list(range(10)), list(range(100, 104))
    truncate_pair(a, b, 10, np.random.default_rng(4))
    assert len(a) == 6 and b == list(range(100, 104))
    assert a == list(range(a[0], a[0] + 6))  # trimmed from the ends only


def test_deterministic_for_a_seed_and_rejects_tiny_lengths():
    document = make_document(np.random.default_rng(5), 5, sentences=30)

    def run(seed):
        return [(p.tokens_a, p.tokens_b, p.label) for p in
                segment_pairs_from_document(document, 24, np.random.default_rng(seed))]

    assert run(7) == run(7) and run(7) != run(8)
    with pytest.raises(ValueError, match="max_seq_length must be at least 5, got 4"):
        segment_pairs_from_document(document, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NSP\\) needs other_documents"):
        segment_pairs_from_document(document, 24, np.random.default_rng(0),
                                    random_next_sentence=True)
