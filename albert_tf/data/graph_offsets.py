"""Token character offsets inside a TensorFlow graph, equal to the tokenizers' Python
`encode_with_offsets`: each token's `[start, end)` in the raw text as given (before
clean-up, lower-casing, accent stripping and whitespace collapsing).

The ids come from the same whole-text graph ops as `encode_tf`. The offsets come from
running the clean-up on each raw character apart (the steps act character by character,
whitespace runs aside, which are handled from their neighbours), which tells how many
cleaned characters each raw character became, hence the raw character behind every
cleaned one. Where the whole text and the characters apart disagree on length (a lone
combining mark between two spaces, say; none in the SQuAD or CMRC 2018 dev sets) the
origins are clamped, so offsets stay inside the text.

The tokenizers import this module only when a graph asks for offsets (serving).
"""

import tensorflow as tf

from albert_tf.data.text_preprocessing import WHITESPACE_CHARACTER

_NO_POSITION = tf.int64.max  # pads sorted sequences so searches never land in padding


def dense_rows(ragged: tf.RaggedTensor, pad) -> tf.Tensor:
    """[batch, (n)] -> [batch, max(n, 1)] (one column at least, so gathers always work)."""
    dense = ragged.to_tensor(default_value=pad)
    return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]],
                  constant_values=pad)


def _with_end(ragged: tf.RaggedTensor, end: tf.Tensor) -> tf.RaggedTensor:
    """Each row of `ragged` [batch, (n)] followed by end[row]."""
    return tf.concat([ragged, tf.RaggedTensor.from_tensor(end[:, None])], axis=1)


def _positions_of(sorted_ragged: tf.RaggedTensor, values: tf.RaggedTensor,
                  side: str) -> tf.RaggedTensor:
    """Row-wise `searchsorted` of ragged values [batch, (k)] in ragged ascending rows."""
    sequence = dense_rows(tf.cast(sorted_ragged, tf.int64), _NO_POSITION)
    found = tf.searchsorted(sequence, dense_rows(tf.cast(values, tf.int64), 0), side=side,
                            out_type=tf.int64)
    return tf.RaggedTensor.from_tensor(found, lengths=values.row_lengths())


def _gather_rows(params: tf.RaggedTensor, indices: tf.RaggedTensor) -> tf.RaggedTensor:
    """params[row][indices[row]] for ragged int rows; indices are clamped into the row."""
    last = tf.maximum(params.row_lengths() - 1, 0)
    clamped = tf.minimum(tf.maximum(tf.cast(indices, tf.int64), 0),
                         tf.expand_dims(last, 1))
    return tf.gather(params, clamped, batch_dims=1)


def char_origins(counts: tf.RaggedTensor, expected: tf.Tensor) -> tf.RaggedTensor:
    """The raw character behind each cleaned character: raw character i, which became
    counts[row][i] cleaned ones, repeated that often; clamped to `expected` [batch]
    cleaned characters (the whole-text clean-up's length)."""
    counts = tf.cast(counts, tf.int64)
    local = tf.ragged.range(counts.row_lengths())  # [batch, (raw chars)]
    origins = tf.RaggedTensor.from_row_lengths(
        tf.repeat(local.flat_values, counts.flat_values), tf.reduce_sum(counts, axis=1))
    return _gather_rows(origins, tf.ragged.range(tf.cast(expected, tf.int64)))


def whitespace_collapse_counts(chars: tf.RaggedTensor, cleaned_counts: tf.RaggedTensor
                               ) -> tf.RaggedTensor:
    """Cleaned characters per raw character of the original ALBERT clean-up: a whitespace
    run between two non-whitespace characters becomes one space (from its first
    character), leading and trailing runs nothing; any other character
    `cleaned_counts` (what NFKD, accent stripping and lower-casing made of it)."""
    is_space = tf.strings.regex_full_match(chars, WHITESPACE_CHARACTER)
    valid = tf.ones_like(is_space, tf.bool).to_tensor(False)
    spaces = is_space.to_tensor(False)
    solid = tf.cast(valid & ~spaces, tf.int32)
    before = tf.cumsum(solid, axis=1, exclusive=True) > 0
    after = tf.cumsum(solid, axis=1, exclusive=True, reverse=True) > 0
    previous_space = tf.pad(spaces[:, :-1], [[0, 0], [1, 0]], constant_values=True)
    kept_space = spaces & ~previous_space & before & after
    counts = tf.where(spaces, tf.cast(kept_space, tf.int64),
                      tf.cast(cleaned_counts.to_tensor(0), tf.int64))
    return tf.RaggedTensor.from_tensor(counts, lengths=chars.row_lengths())


def raw_characters(texts: tf.Tensor) -> tf.RaggedTensor:
    """string [batch] -> its characters [batch, (chars)]; invalid UTF-8 is an error."""
    codes = tf.strings.unicode_decode(texts, "UTF-8", errors="strict")
    return tf.strings.unicode_encode(tf.expand_dims(codes, -1), "UTF-8")


def sentencepiece_offsets(cleaned: tf.Tensor, origins: tf.RaggedTensor, raw_length: tf.Tensor,
                          byte_begin: tf.RaggedTensor, byte_end: tf.RaggedTensor):
    """Raw-text (starts, ends) of SentencePiece pieces, given their byte offsets into the
    cleaned text, as the Python path computes them: a piece's leading spaces (its `▁`)
    cover no character; a piece of nothing but `▁` is empty, where the next character
    begins."""
    codes, char_bytes = tf.strings.unicode_decode_with_offsets(cleaned, "UTF-8")
    char_count = codes.row_lengths()
    byte_starts = _with_end(char_bytes, tf.cast(tf.strings.length(cleaned), tf.int64))
    begin = _positions_of(byte_starts, byte_begin, "right") - 1
    end = _positions_of(byte_starts, byte_end, "right") - 1
    positions = tf.ragged.range(char_count)
    not_space = _with_end(tf.ragged.boolean_mask(positions, codes != 32), char_count)
    begin = tf.minimum(_gather_rows(not_space, _positions_of(not_space, begin, "left")), end)
    ends_of_text = _with_end(tf.cast(origins, tf.int64), tf.cast(raw_length, tf.int64))
    at_end = _gather_rows(ends_of_text, end)
    empty = begin >= end
    starts = tf.where(empty, at_end, _gather_rows(ends_of_text, begin))
    ends = tf.where(empty, at_end, _gather_rows(ends_of_text, end - 1) + 1)
    return starts, ends


def word_origins(pieces: tf.RaggedTensor, expected_words: tf.RaggedTensor) -> tf.RaggedTensor:
    """[batch, (words), (chars)] raw character of each character of each word.

    `pieces` [batch, (raw chars)] holds what each raw character became (spaces split
    words); `expected_words` [batch, (words)] the whole-text words, whose number and
    lengths the result is clamped to."""
    out = tf.strings.unicode_split(pieces, "UTF-8")  # [batch, (raw chars), (out chars)]
    origin = tf.ragged.range(pieces.row_lengths())  # [batch, (raw chars)]
    origins = tf.RaggedTensor.from_row_lengths(
        tf.repeat(origin.flat_values, out.row_lengths(axis=2).flat_values),
        tf.reduce_sum(out.row_lengths(axis=2), axis=1))  # [batch, (out chars)]
    chars = out.merge_dims(1, 2)
    solid = chars != " "
    previous = tf.concat([tf.ones_like(solid[:, :1]), ~solid[:, :-1]], axis=1)
    starts_word = tf.cast(solid & previous, tf.int64)
    word_index = tf.cumsum(starts_word, axis=1) - 1
    kept_origins = tf.ragged.boolean_mask(origins, solid)
    kept_words = tf.ragged.boolean_mask(word_index, solid)
    row_words = tf.reduce_sum(starts_word, axis=1)
    offsets = tf.cumsum(row_words, exclusive=True)
    flat_word = (kept_words + tf.expand_dims(offsets, 1)).flat_values
    words = tf.RaggedTensor.from_value_rowids(kept_origins.flat_values, flat_word,
                                              nrows=tf.reduce_sum(row_words))
    words = tf.RaggedTensor.from_row_lengths(words, row_words)  # [batch, (words), (chars)]
    # Clamp to the whole-text words: word w of a row, character c of the word.
    word_ids = tf.minimum(tf.ragged.range(expected_words.row_lengths()),
                          tf.expand_dims(tf.maximum(row_words - 1, 0), 1))
    chosen = tf.gather(words, word_ids, batch_dims=1)  # [batch, (words), (chars)]
    lengths = tf.strings.length(expected_words, unit="UTF8_CHAR")
    flat_chosen = chosen.merge_dims(0, 1)  # [all words, (chars)]
    char_ids = tf.ragged.range(tf.cast(lengths.flat_values, tf.int64))
    clamped = tf.gather(flat_chosen, tf.minimum(
        char_ids, tf.expand_dims(tf.maximum(flat_chosen.row_lengths() - 1, 0), 1)),
        batch_dims=1)
    return expected_words.with_flat_values(clamped)


def wordpiece_offsets(words: tf.RaggedTensor, origins: tf.RaggedTensor, ids: tf.RaggedTensor,
                      byte_begin: tf.RaggedTensor, byte_end: tf.RaggedTensor, unknown_id: int):
    """Raw-text (starts, ends) [batch, (words), (pieces)] of WordPiece pieces from their
    byte offsets in their word; an `[UNK]` spans its whole word, as in the Python path."""
    flat_words = words.flat_values
    codes, char_bytes = tf.strings.unicode_decode_with_offsets(flat_words, "UTF-8")
    byte_starts = _with_end(char_bytes, tf.cast(tf.strings.length(flat_words), tf.int64))
    flat_begin = byte_begin.merge_dims(0, 1)  # [all words, (pieces)]
    flat_end = byte_end.merge_dims(0, 1)
    begin = _positions_of(byte_starts, flat_begin, "right") - 1
    end = _positions_of(byte_starts, flat_end, "right") - 1
    unknown = tf.equal(ids.merge_dims(0, 1), unknown_id)
    begin = tf.where(unknown, tf.zeros_like(begin), begin)
    end = tf.where(unknown, tf.ones_like(end) * tf.expand_dims(codes.row_lengths(), 1), end)
    flat_origins = tf.cast(origins.merge_dims(0, 1), tf.int64)  # [all words, (chars)]
    starts = _gather_rows(flat_origins, begin)
    ends = _gather_rows(flat_origins, end - 1) + 1
    return (byte_begin.with_flat_values(starts.flat_values),
            byte_begin.with_flat_values(ends.flat_values))
