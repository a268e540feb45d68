"""ALBERT's n-gram masking over whole words.

Spans of up to `max_ngram` whole words are masked, the span length n drawn with
p(n) proportional to 1/n (or to 1/(max_ngram + 1 - n) when shorter n-grams are not
favoured), until `round(len * masked_lm_prob)` tokens (at least 1, at most
`max_predictions`) are chosen. Each chosen token becomes [MASK] with p=0.8, stays with
p=0.1, or becomes a random id with p=0.1. [CLS] and [SEP] are never chosen, and random
ids are never special tokens (the original may draw any vocabulary entry). The special ids
are the tokenizer's (`SpecialIds`; ALBERT's SentencePiece ids by default).

Word boundaries come from a per-position `token_boundary` array (1 where a piece starts a
word), the feature the records carry, so masking at write time and dynamic masking in the
input pipeline run the same code on the same information.

Unlike the original, every draw comes from the `numpy.random.Generator` passed in, so a
seed reproduces the output exactly. The draws are vectorized and only the greedy span
walk is a Python loop (one step per chosen span); see BENCHMARKS.md for the speed.
"""

import dataclasses
import functools
from typing import List, Sequence

import numpy as np

from albert_tf.data.sentencepiece_tokenizer import ALBERT_SPECIAL_IDS, SpecialIds

REPLACED_BY_MASK, KEPT, REPLACED_BY_RANDOM = 0, 1, 2


@dataclasses.dataclass
class MaskedTokens:
    """The output of `mask_tokens` (int arrays).

    Attributes:
        input_ids: The ids after replacement (same length as the input).
        positions: Sorted masked positions.
        labels: Original ids at `positions`.
        ngram_lengths: Length in words of every span chosen (for statistics).
        drawn_ngram_lengths: The n drawn at every start word visited, before spans were
            shortened to the budget or skipped for overlap (these follow p(n); the chosen
            spans favour short n more, as in the original, since long spans are the ones
            that overlap or overrun the budget).
        replacements: Per position: 0 = [MASK], 1 = kept, 2 = random id.
    """

    input_ids: np.ndarray
    positions: np.ndarray
    labels: np.ndarray
    ngram_lengths: np.ndarray
    replacements: np.ndarray
    drawn_ngram_lengths: np.ndarray


def ngram_probabilities(max_ngram: int, favor_shorter_ngram: bool = True) -> np.ndarray:
    """p(n) for n = 1..max_ngram. Example:

    >>> ngram_probabilities(3).round(4).tolist()   # 6/11, 3/11, 2/11
    [0.5455, 0.2727, 0.1818]
    """
    weights = 1.0 / np.arange(1, max_ngram + 1)
    if not favor_shorter_ngram:
        weights = weights[::-1]
    return weights / weights.sum()


@functools.lru_cache(maxsize=None)
def _truncated_cdfs(max_ngram: int, favor_shorter_ngram: bool) -> np.ndarray:
    """Row k-1: the CDF of p(n) renormalized over n <= k (a span near the end of the
    sequence cannot be longer than the words left), padded with 1."""
    probabilities = ngram_probabilities(max_ngram, favor_shorter_ngram)
    table = np.ones((max_ngram, max_ngram))
    for longest in range(1, max_ngram + 1):
        head = probabilities[:longest]
        table[longest - 1, :longest] = np.cumsum(head / head.sum())
    return table


@functools.lru_cache(maxsize=8)
def ordinary_ids(vocab_size: int, special_ids: SpecialIds) -> np.ndarray:
    """The ids a random replacement may take: every id but the special ones, ascending
    (for ALBERT's SentencePiece ids, 5 .. vocab_size - 1)."""
    return np.setdiff1d(np.arange(vocab_size, dtype=np.int64),
                        np.asarray(special_ids, np.int64))


def word_spans(token_ids: Sequence[int], token_boundary: Sequence[int],
               whole_word: bool = True, special_ids: SpecialIds = ALBERT_SPECIAL_IDS):
    """(starts, ends) of the maskable words: a piece whose boundary is 0 joins the word
    before it; [CLS]/[SEP] belong to no word and end the current one.

    Example:

    >>> starts, ends = word_spans([2, 10, 11, 12, 3, 13, 3], [1, 1, 0, 1, 1, 1, 1])
    >>> starts.tolist(), ends.tolist()
    ([1, 3, 5], [3, 4, 6])
    """
    ids = np.asarray(token_ids)
    return _words(ids, np.asarray(token_boundary), np.array([0, len(ids)]), whole_word,
                  special_ids)


def _words(ids: np.ndarray, boundary: np.ndarray, bounds: np.ndarray, whole_word: bool,
           special_ids: SpecialIds):
    """(starts, ends) of the words of sequences laid end to end; `bounds` [n + 1] are the
    sequence offsets (a sequence start ends the previous word)."""
    maskable = (ids != special_ids.cls) & (ids != special_ids.sep)
    new_word = maskable.copy()
    if whole_word:
        continues = np.concatenate([[False], maskable[:-1]])
        continues[bounds[:-1]] = False
        new_word &= (boundary != 0) | ~continues
    starts = np.flatnonzero(new_word)
    breaks = np.concatenate([starts, np.flatnonzero(~maskable), bounds[1:]])
    breaks.sort()
    ends = breaks[np.searchsorted(breaks, starts, side="right")]
    return starts, ends


def word_groups(token_ids: Sequence[int], token_boundary: Sequence[int],
                whole_word: bool = True,
                special_ids: SpecialIds = ALBERT_SPECIAL_IDS) -> List[List[int]]:
    """The positions of each maskable word (see `word_spans`)."""
    starts, ends = word_spans(token_ids, token_boundary, whole_word, special_ids)
    return [list(range(start, end)) for start, end in zip(starts.tolist(), ends.tolist())]


def mask_tokens(
    token_ids: Sequence[int],
    rng: np.random.Generator,
    token_boundary: Sequence[int],
    vocab_size: int,
    masked_lm_prob: float = 0.15,
    max_predictions: int = 20,
    max_ngram: int = 3,
    favor_shorter_ngram: bool = True,
    whole_word: bool = True,
    special_ids: SpecialIds = ALBERT_SPECIAL_IDS,
) -> MaskedTokens:
    """Chooses and replaces masked tokens for one [CLS] a [SEP] b [SEP] sequence.

    Args:
        token_ids: The unpadded sequence.
        rng: All draws come from it.
        token_boundary: Per position, 1 where the piece starts a word.
        vocab_size: Random replacements are drawn from [0, vocab_size), specials aside.
        masked_lm_prob: Share of the sequence to mask.
        max_predictions: Cap on the masked positions.
        max_ngram: Longest span, in words.
        favor_shorter_ngram: p(n) proportional to 1/n (else reversed).
        whole_word: Mask all pieces of a word together.
        special_ids: The vocabulary's [CLS], [SEP], [MASK] (and other special) ids.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> out = mask_tokens([2, 10, 11, 12, 13, 3, 14, 15, 3], rng, [1] * 9,
    ...                   vocab_size=20, masked_lm_prob=0.3)
    >>> len(out.positions), bool(np.isin(out.positions, [0, 5, 8]).any())
    (3, False)
    """
    return mask_sequences([token_ids], [token_boundary], rng, vocab_size, masked_lm_prob,
                          max_predictions, max_ngram, favor_shorter_ngram, whole_word,
                          special_ids)[0]


def mask_sequences(
    sequences: Sequence[Sequence[int]],
    token_boundaries: Sequence[Sequence[int]],
    rng: np.random.Generator,
    vocab_size: int,
    masked_lm_prob: float = 0.15,
    max_predictions: int = 20,
    max_ngram: int = 3,
    favor_shorter_ngram: bool = True,
    whole_word: bool = True,
    special_ids: SpecialIds = ALBERT_SPECIAL_IDS,
) -> List[MaskedTokens]:
    """`mask_tokens` for many sequences at once: the same rules for each, with the NumPy
    work done once for the whole batch (the per-call overhead dominated otherwise)."""
    lengths = np.array([len(s) for s in sequences], np.int64)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    ids = np.concatenate([np.asarray(s, np.int64) for s in sequences])
    boundary = np.concatenate([np.asarray(b) for b in token_boundaries])
    starts, ends = _words(ids, boundary, bounds, whole_word, special_ids)
    word_sequence = np.searchsorted(bounds[1:], starts, side="right")
    word_bounds = np.concatenate([[0], np.cumsum(np.bincount(word_sequence,
                                                             minlength=len(sequences)))])
    words_left = word_bounds[word_sequence + 1] - np.arange(len(starts))  # incl. this word

    # Visit each sequence's words in random order, each with a span length drawn from p(n)
    # truncated to the words left after it in its sequence.
    order = np.lexsort((rng.random(len(starts)), word_sequence))
    longest = np.minimum(max_ngram, words_left[order])
    cdfs = _truncated_cdfs(max_ngram, favor_shorter_ngram)[longest - 1]
    drawn = 1 + (rng.random(len(starts))[:, None] > cdfs[:, :-1]).sum(axis=1)
    cumulative = np.concatenate([[0], np.cumsum(ends - starts)]).tolist()
    order, drawn = order.tolist(), drawn.tolist()
    budgets = np.minimum(max_predictions,
                         np.maximum(1, np.round(lengths * masked_lm_prob))).astype(int).tolist()

    covered = bytearray(len(starts))
    chosen_per_sequence, spans_per_sequence, visited_per_sequence = [], [], []
    for sequence, budget in enumerate(budgets):
        first, last = word_bounds[sequence], word_bounds[sequence + 1]
        chosen: List[int] = []
        spans: List[int] = []
        count = 0
        visited = first
        for visit in range(first, last):
            if count >= budget:
                break
            visited = visit + 1
            start, n = order[visit], drawn[visit]
            # Shorten the span until it fits in what is left to predict.
            while n > 0 and count + cumulative[start + n] - cumulative[start] > budget:
                n -= 1
            if n == 0 or any(covered[start:start + n]):
                continue
            covered[start:start + n] = b"\x01" * n
            chosen.extend(range(start, start + n))
            count += cumulative[start + n] - cumulative[start]
            spans.append(n)
        chosen.sort()
        chosen_per_sequence.append(chosen)
        spans_per_sequence.append(spans)
        visited_per_sequence.append(drawn[first:visited])

    starts_list, ends_list = starts.tolist(), ends.tolist()
    positions = [np.array([p for w in chosen for p in range(starts_list[w], ends_list[w])],
                          dtype=np.int64) for chosen in chosen_per_sequence]
    total = sum(len(p) for p in positions)
    draws = rng.random(total)
    random_ids = ordinary_ids(vocab_size, special_ids)[
        rng.integers(0, vocab_size - len(set(special_ids)), size=total)]
    replacements = np.where(draws < 0.8, REPLACED_BY_MASK,
                            np.where(draws < 0.9, KEPT, REPLACED_BY_RANDOM))
    output = ids.copy()
    flat_positions = np.concatenate(positions) if total else np.zeros(0, np.int64)
    labels = ids[flat_positions]
    output[flat_positions] = np.where(replacements == REPLACED_BY_MASK, special_ids.mask,
                                      np.where(replacements == KEPT, labels, random_ids))
    results, used = [], 0
    for sequence, sequence_positions in enumerate(positions):
        begin, end = bounds[sequence], bounds[sequence + 1]
        count = len(sequence_positions)
        results.append(MaskedTokens(
            input_ids=output[begin:end],
            positions=sequence_positions - begin,
            labels=labels[used:used + count],
            ngram_lengths=np.asarray(spans_per_sequence[sequence], np.int64),
            replacements=replacements[used:used + count].astype(np.int64),
            drawn_ngram_lengths=np.asarray(visited_per_sequence[sequence], np.int64),
        ))
        used += count
    return results
