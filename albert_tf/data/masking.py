"""ALBERT's n-gram masking over whole words.

Spans of up to `max_ngram` whole words are masked, the span length n drawn with
p(n) proportional to 1/n (or to 1/(max_ngram + 1 - n) when shorter n-grams are not
favoured), until `round(len * masked_lm_prob)` tokens (at least 1, at most
`max_predictions`) are chosen. Each chosen token becomes [MASK] with p=0.8, stays with
p=0.1, or becomes a random id with p=0.1. [CLS] and [SEP] are never chosen.

Unlike the original, every draw comes from the `numpy.random.Generator` passed in, so a
seed reproduces the output exactly.
"""

import dataclasses
from typing import Callable, List, Sequence

import numpy as np

from albert_tf.data.tokenization import CLS_ID, MASK_ID, SEP_ID

NEVER_MASKED = (CLS_ID, SEP_ID)
# Random replacements avoid <pad>, <unk>, [CLS], [SEP], [MASK].
FIRST_ORDINARY_ID = 5


@dataclasses.dataclass
class MaskedTokens:
    """The output of `mask_tokens`.

    Attributes:
        input_ids: The ids after replacement (same length as the input).
        positions: Sorted masked positions.
        labels: Original ids at `positions`.
        ngram_lengths: Length in words of every span chosen (for statistics).
        replacements: Per position: 0 = [MASK], 1 = kept, 2 = random id.
    """

    input_ids: List[int]
    positions: List[int]
    labels: List[int]
    ngram_lengths: List[int]
    replacements: List[int]


def ngram_probabilities(max_ngram: int, favor_shorter_ngram: bool = True) -> np.ndarray:
    """p(n) for n = 1..max_ngram. Example:

    >>> ngram_probabilities(3).round(4).tolist()   # 6/11, 3/11, 2/11
    [0.5455, 0.2727, 0.1818]
    """
    weights = 1.0 / np.arange(1, max_ngram + 1)
    if not favor_shorter_ngram:
        weights = weights[::-1]
    return weights / weights.sum()


def word_groups(token_ids: Sequence[int], is_word_start: Callable[[int], bool],
                whole_word: bool = True) -> List[List[int]]:
    """Groups maskable positions into words: a piece that does not start a word joins the
    word before it. [CLS]/[SEP] are left out and end the current word."""
    groups: List[List[int]] = []
    continues_word = False
    for position, token_id in enumerate(token_ids):
        if token_id in NEVER_MASKED:
            continues_word = False
            continue
        if whole_word and continues_word and not is_word_start(token_id):
            groups[-1].append(position)
        else:
            groups.append([position])
        continues_word = True
    return groups


def mask_tokens(
    token_ids: Sequence[int],
    rng: np.random.Generator,
    is_word_start: Callable[[int], bool],
    vocab_size: int,
    masked_lm_prob: float = 0.15,
    max_predictions: int = 20,
    max_ngram: int = 3,
    favor_shorter_ngram: bool = True,
    whole_word: bool = True,
) -> MaskedTokens:
    """Chooses and replaces masked tokens for one [CLS] a [SEP] b [SEP] sequence.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> out = mask_tokens([2, 10, 11, 12, 13, 3, 14, 15, 3], rng, lambda i: True,
    ...                   vocab_size=20, masked_lm_prob=0.3)
    >>> len(out.positions), all(p not in (0, 5, 8) for p in out.positions)
    (3, True)
    """
    output = list(token_ids)
    groups = word_groups(token_ids, is_word_start, whole_word)
    num_to_predict = min(max_predictions, max(1, int(round(len(token_ids) * masked_lm_prob))))
    probabilities = ngram_probabilities(max_ngram, favor_shorter_ngram)

    # Every word starts up to max_ngram candidate spans; visit start words in random order.
    starts = rng.permutation(len(groups))
    covered = set()
    positions: List[int] = []
    ngram_lengths: List[int] = []
    for start in starts:
        if len(positions) >= num_to_predict:
            break
        longest = min(max_ngram, len(groups) - start)
        p = probabilities[:longest] / probabilities[:longest].sum()
        n = int(rng.choice(np.arange(1, longest + 1), p=p))
        # Shorten the span until it fits in what is left to predict.
        while n > 0:
            span = [pos for group in groups[start:start + n] for pos in group]
            if len(positions) + len(span) <= num_to_predict:
                break
            n -= 1
        if n == 0 or any(pos in covered for pos in span):
            continue
        covered.update(span)
        positions.extend(span)
        ngram_lengths.append(n)

    positions.sort()
    replacements = []
    for position in positions:
        draw = rng.random()
        if draw < 0.8:
            output[position] = MASK_ID
            replacements.append(0)
        elif draw < 0.9:
            replacements.append(1)
        else:
            output[position] = int(rng.integers(FIRST_ORDINARY_ID, vocab_size))
            replacements.append(2)
    return MaskedTokens(
        input_ids=output,
        positions=positions,
        labels=[token_ids[p] for p in positions],
        ngram_lengths=ngram_lengths,
        replacements=replacements,
    )
