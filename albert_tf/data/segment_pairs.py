"""Segment pairs for sentence-order prediction (SOP) or next-sentence prediction (NSP).

A document (a list of tokenized sentences) is cut into chunks of consecutive sentences
that fill a target length: `max_seq_length - 3`, or with `short_seq_prob` a random shorter
one, drawn once per document as the original does. Each chunk is split at a random
sentence boundary into segments A and B. SOP: with p=0.5 A and B are swapped, label 1.
NSP: with p=0.5 B is replaced by text from another document, label 1, and the sentences
it displaced are used for the next chunk. A chunk of a single sentence has no boundary:
as in the original it becomes a label-1 pair whose B comes from another document, in
SOP mode too (`skip_single_sentence_chunks` skips and counts it instead).

All randomness comes from the generator passed in.
"""

import dataclasses
import itertools
from typing import List, Optional, Sequence

import numpy as np

Document = Sequence[Sequence[int]]


@dataclasses.dataclass
class SegmentPair:
    tokens_a: List[int]
    tokens_b: List[int]
    label: int  # 1 = swapped (SOP) or random next (NSP)


@dataclasses.dataclass
class PairingStats:
    pairs: int = 0
    single_sentence_chunks: int = 0  # paired with another document's text, or skipped
    single_sentence_chunks_skipped: int = 0


def truncate_pair(tokens_a: List[int], tokens_b: List[int], max_tokens: int,
                  rng: np.random.Generator) -> None:
    """Trims the longer segment, one token at a time from a random end, in place."""
    while len(tokens_a) + len(tokens_b) > max_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def segment_pairs_from_document(
    document: Document,
    max_seq_length: int,
    rng: np.random.Generator,
    short_seq_prob: float = 0.1,
    random_next_sentence: bool = False,
    other_documents: Sequence[Document] = (),
    stats: Optional[PairingStats] = None,
    skip_single_sentence_chunks: bool = False,
) -> List[SegmentPair]:
    """Cuts one document into segment pairs for SOP (default) or NSP.

    Args:
        document: Tokenized sentences of one document.
        max_seq_length: Length of `[CLS] A [SEP] B [SEP]` after truncation.
        rng: The random generator; the same state gives the same pairs.
        short_seq_prob: Probability of a shorter random target length for the document.
        random_next_sentence: NSP instead of SOP.
        other_documents: Documents to draw a random B from (NSP, and single-sentence
            chunks); without them a single-sentence chunk is skipped and counted.
        stats: Optional counters updated in place.
        skip_single_sentence_chunks: In SOP mode, skip (and count) chunks of one
            sentence instead of pairing them with another document's text.

    Example:

    >>> doc = [[10, 11], [12, 13, 14], [15], [16, 17]]
    >>> pairs = segment_pairs_from_document(doc, 16, np.random.default_rng(0), short_seq_prob=0)
    >>> [(p.tokens_a, p.tokens_b, p.label) for p in pairs]
    [([15, 16, 17], [10, 11, 12, 13, 14], 1)]
    """
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5, got {max_seq_length}")
    if random_next_sentence and not other_documents:
        raise ValueError("random_next_sentence (NSP) needs other_documents to draw B from")
    stats = stats if stats is not None else PairingStats()
    max_tokens = max_seq_length - 3
    target = max_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_tokens + 1))

    pairs: List[SegmentPair] = []
    chunk: List[Sequence[int]] = []
    length = 0
    index = 0
    while index < len(document):
        chunk.append(document[index])
        length += len(document[index])
        if index == len(document) - 1 or length >= target:
            a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
            tokens_a = _concatenate(chunk[:a_end])
            tokens_b: List[int] = []
            label = 1
            single = len(chunk) == 1
            stats.single_sentence_chunks += single
            if single and (not other_documents or (
                    skip_single_sentence_chunks and not random_next_sentence)):
                stats.single_sentence_chunks_skipped += 1
            elif single or (random_next_sentence and rng.random() < 0.5):
                tokens_b = _random_segment(other_documents, max(1, target - len(tokens_a)), rng)
                index -= len(chunk) - a_end  # the displaced sentences start the next chunk
            else:
                tokens_b = _concatenate(chunk[a_end:])
                label = int(not random_next_sentence and rng.random() < 0.5)
                if label:
                    tokens_a, tokens_b = tokens_b, tokens_a
            if tokens_a and tokens_b:
                truncate_pair(tokens_a, tokens_b, max_tokens, rng)
                pairs.append(SegmentPair(tokens_a, tokens_b, label))
                stats.pairs += 1
            chunk, length = [], 0
        index += 1
    return pairs


def _concatenate(sentences: Sequence[Sequence[int]]) -> List[int]:
    return list(itertools.chain.from_iterable(sentences))


def _random_segment(documents: Sequence[Document], target_length: int,
                    rng: np.random.Generator) -> List[int]:
    document = documents[int(rng.integers(len(documents)))]
    start = int(rng.integers(len(document)))
    tokens: List[int] = []
    for sentence in document[start:]:
        tokens.extend(sentence)
        if len(tokens) >= target_length:
            break
    return tokens
