"""`[CLS] a [SEP] (b [SEP])` packing with the original's truncation, in Python (the
fine-tuning records) and in the graph (the serving signature); the two are tested equal.

Truncation is the original `_truncate_seq_pair`: while the pair is too long, drop the last
token of the longer segment (of `b` on a tie). The libraries' trimmers cut differently:
tensorflow-text's `ShrinkLongestTrimmer` disagrees on 476 of the 2,160 pairs of lengths
0-11 under budgets 0-14 (a=1, b=2 tokens, budget 1: it keeps b's token, the original a's),
and keras-hub's `MultiSegmentPacker` offers only round-robin and waterfall; so truncation
is written here. Joining the segments with the special tokens and segment ids is exactly
`tensorflow_text.combine_segments`, which the graph path uses.
"""

from typing import Dict, List, Optional, Tuple

from albert_tf.data.sentencepiece_tokenizer import ALBERT_SPECIAL_IDS, SpecialIds
from albert_tf.errors import AlbertTfError

MIN_SEQ_LENGTH = 5  # [CLS] a [SEP] b [SEP] with one token each


class SequenceLengthError(AlbertTfError, ValueError):
    """A packed length that cannot hold a pair or does not fit the model's positions."""


def check_sequence_length(max_seq_length: int, max_position_embeddings: Optional[int],
                          flag: str = "--max_seq_length") -> None:
    """The one rule for every packed length (training, evaluation, export): room for
    `[CLS] a [SEP] b [SEP]` and no more positions than the model has.

    >>> check_sequence_length(4, 512)
    Traceback (most recent call last):
    ...
    albert_tf.data.packing.SequenceLengthError: --max_seq_length=4 must be between 5 ([CLS] a [SEP] b [SEP]) and the model's max_position_embeddings (512)
    """
    pair = f"{MIN_SEQ_LENGTH} ([CLS] a [SEP] b [SEP])"
    if max_position_embeddings is None:
        if max_seq_length < MIN_SEQ_LENGTH:
            raise SequenceLengthError(f"{flag}={max_seq_length} must be at least {pair}")
    elif not MIN_SEQ_LENGTH <= max_seq_length <= max_position_embeddings:
        raise SequenceLengthError(f"{flag}={max_seq_length} must be between {pair} and the "
                                  f"model's max_position_embeddings "
                                  f"({max_position_embeddings})")


def truncate_longest_first(tokens_a: List[int], tokens_b: List[int], max_tokens: int) -> None:
    """Drops tokens from the end of the longer list (b on a tie) until both fit, in place."""
    while len(tokens_a) + len(tokens_b) > max_tokens:
        (tokens_a if len(tokens_a) > len(tokens_b) else tokens_b).pop()


def pack(tokens_a: List[int], tokens_b: Optional[List[int]], max_seq_length: int,
         special_ids: SpecialIds = ALBERT_SPECIAL_IDS) -> Tuple[List[int], List[int], List[int]]:
    """(input_ids, input_mask, segment_ids), each max_seq_length long; [CLS] and [SEP] are
    the `special_ids` ones (the tokenizer's).

    Example:

    >>> pack([7, 8, 9], [5, 6], 8)[0]
    [2, 7, 8, 9, 3, 5, 6, 3]
    """
    cls, sep = special_ids.cls, special_ids.sep
    tokens_a = list(tokens_a)
    if tokens_b is None:
        del tokens_a[max_seq_length - 2:]
        ids = [cls] + tokens_a + [sep]
        segments = [0] * len(ids)
    else:
        tokens_b = list(tokens_b)
        truncate_longest_first(tokens_a, tokens_b, max_seq_length - 3)
        ids = [cls] + tokens_a + [sep] + tokens_b + [sep]
        segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    padding = max_seq_length - len(ids)
    return ids + [0] * padding, [1] * len(ids) + [0] * padding, segments + [0] * padding


def _keep_first(ids, counts):
    """The first counts[i] ids of row i of a ragged [batch, (tokens)] tensor."""
    import tensorflow as tf

    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < tf.expand_dims(counts, 1))


def truncate_longest_first_tf(ids_a, ids_b, max_tokens: int):
    """The graph form of `truncate_longest_first` on ragged [batch, (tokens)] rows.

    Removing one token at a time from the longer list ends, when anything is removed, with
    a at max(max_tokens - len(b), ceil(max_tokens / 2)) (if a was that long) and b
    filling what is left, which is what this computes in closed form.
    """
    import tensorflow as tf

    length_a, length_b = ids_a.row_lengths(), ids_b.row_lengths()  # [batch] int64
    budget = tf.constant(max_tokens, tf.int64)
    keep_a = tf.minimum(length_a, tf.maximum(budget - length_b, (budget + 1) // 2))
    keep_b = tf.minimum(length_b, budget - keep_a)
    return _keep_first(ids_a, keep_a), _keep_first(ids_b, keep_b)


def pack_tf(ids_a, ids_b, max_seq_length: int,
            special_ids: SpecialIds = ALBERT_SPECIAL_IDS) -> Dict[str, object]:
    """`pack` in the graph: ragged int32 ids [batch, (tokens)] of one or two segments to
    int32 input_ids/input_mask/segment_ids [batch, longest], padded only to the longest
    packed row (at most max_seq_length): padding is masked, so the model's outputs are the
    same as at full length and short requests cost less."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    batch = ids_a.nrows()
    if ids_b is None:
        segments = [_keep_first(ids_a, tf.fill([batch], tf.constant(max_seq_length - 2,
                                                                    tf.int64)))]
    else:
        segments = list(truncate_longest_first_tf(ids_a, ids_b, max_seq_length - 3))
    input_ids, segment_ids = tf_text.combine_segments(
        [tf.cast(ids, tf.int32) for ids in segments],
        start_of_sequence_id=special_ids.cls, end_of_segment_id=special_ids.sep)
    return {"input_ids": input_ids.to_tensor(0),
            "input_mask": tf.ones_like(input_ids).to_tensor(0),
            "segment_ids": tf.cast(segment_ids, tf.int32).to_tensor(0)}
