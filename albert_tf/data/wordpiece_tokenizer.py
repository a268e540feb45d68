"""WordPiece tokenization over a BERT-style `vocab.txt` (the Chinese ALBERT releases), in
Python and in the TensorFlow graph, with the original FullTokenizer's behaviour.

The original (google-research/albert `tokenization.py`, `FullTokenizer` given a
`vocab_file` and no `spm_model_file`) cleans the text (drops NUL, U+FFFD and the Cc/Cf
control and format characters, turns whitespace into spaces), puts spaces around every CJK character, splits
on whitespace, lower-cases and strips accents (NFD, then no Mn characters) under
`do_lower_case`, splits off punctuation, and cuts each word greedily into the longest
vocabulary pieces (`##` marking a continuation); a word longer than 200 characters, or one
that cannot be cut, becomes `[UNK]`.

The graph path does the same steps with TensorFlow string ops and tensorflow-text's
`WordpieceTokenizer`. tensorflow-text's `BertTokenizer` is not used for the first part: it
case-folds (`ß` -> `ss`, where the original's `str.lower` keeps `ß`), keeps control
characters and splits on a different whitespace set. The character classes below are built
from Python's own Unicode tables, so both paths drop, split and strip the same characters.

Example:

>>> import os, tempfile
>>> vocab = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> _ = open(vocab, "w", encoding="utf-8").write("\\n".join(
...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中", "国", "un", "##aff", "##able",
...      ",", "hello"]) + "\\n")
>>> tokenizer = WordPieceTokenizer(vocab)
>>> tokenizer.tokenize("中国 Unaffable, HELLO!")
['中', '国', 'un', '##aff', '##able', ',', 'hello', '[UNK]']
>>> tokenizer.encode_tf(["中国 Unaffable, HELLO!"]).to_list()[0] == tokenizer.encode(
...     "中国 Unaffable, HELLO!")
True
"""

import hashlib
import numbers
import unicodedata
from typing import Dict, List, Sequence, Tuple

from albert_tf.data.sentencepiece_tokenizer import SpecialIds
from albert_tf.data.text_preprocessing import character_class, realign
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import check_input_file

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONTINUATION = "##"
MAX_WORD_CHARACTERS = 200  # the original's max_input_chars_per_word
# The original's _is_chinese_char: the CJK Unified Ideographs blocks and their extensions,
# and the compatibility ideographs (not Hangul, kana or CJK punctuation).
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


class VocabularyError(AlbertTfError, ValueError):
    """A WordPiece vocabulary that cannot be used; the message names the file and line."""


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    return (33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
            or unicodedata.category(char).startswith("P"))


def is_cjk(char: str) -> bool:
    """The original's `_is_chinese_char`: a character WordPiece keeps as its own word."""
    code = ord(char)
    return any(low <= code <= high for low, high in CJK_RANGES)


def is_dropped(char: str) -> bool:
    """A character the original's clean-up removes (NUL, U+FFFD, control and format)."""
    return char in "\x00\ufffd" or _is_control(char)


def basic_tokenize(text: str, lower_case: bool) -> List[str]:
    """The original BasicTokenizer: the words (and punctuation marks) of `text`."""
    cleaned = []
    for char in text:
        if is_dropped(char):
            continue
        if _is_whitespace(char):
            cleaned.append(" ")
        elif is_cjk(char):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(char)
    words = []
    for token in "".join(cleaned).split():
        if lower_case:
            token = unicodedata.normalize("NFD", token.lower())
            token = "".join(char for char in token if unicodedata.category(char) != "Mn")
        word: List[str] = []
        for char in token:
            if _is_punctuation(char):
                words += ["".join(word)] if word else []
                words.append(char)
                word = []
            else:
                word.append(char)
        words += ["".join(word)] if word else []
    return words


def basic_tokenize_with_origins(text: str, lower_case: bool) -> List[Tuple[str, List[int]]]:
    """`basic_tokenize(text)` with, per word, the index in `text` of each of its
    characters."""
    chars: List[Tuple[str, int]] = []
    for index, char in enumerate(text):
        if is_dropped(char):
            continue
        if _is_whitespace(char) or is_cjk(char):
            chars.append((" ", index))
        if not _is_whitespace(char):
            chars.append((char, index))
        if is_cjk(char):
            chars.append((" ", index))
    tokens: List[List[Tuple[str, int]]] = [[]]
    for char, index in chars:
        if char.isspace():  # what str.split() splits on
            tokens.append([]) if tokens[-1] else None
        else:
            tokens[-1].append((char, index))
    words = []
    for token in filter(None, tokens):
        text_of_token = "".join(char for char, _ in token)
        origins = [index for _, index in token]
        if lower_case:
            built, built_origins = "", []
            for char, index in token:
                char = "".join(c for c in unicodedata.normalize("NFD", char.lower())
                               if unicodedata.category(c) != "Mn")
                built += char
                built_origins += [index] * len(char)
            expected = "".join(c for c in unicodedata.normalize("NFD", text_of_token.lower())
                               if unicodedata.category(c) != "Mn")
            text_of_token, origins = realign(expected, built, built_origins)
        word, word_origins = "", []
        for char, origin in zip(text_of_token, origins):
            if _is_punctuation(char):
                words += [(word, word_origins)] if word else []
                words.append((char, [origin]))
                word, word_origins = "", []
            else:
                word += char
                word_origins.append(origin)
        words += [(word, word_origins)] if word else []
    return words


def read_vocabulary(vocab_file: str) -> Tuple[List[str], bytes]:
    """The tokens of a vocab.txt (token i on line i + 1) and the file's bytes.

    A line's token is its first whitespace-separated field, and a line of whitespace alone
    (the released Chinese vocabulary's line 344 is U+2028) is the token " ", as the
    original's `load_vocab` reads them. Where the original silently skips a repeated token
    (shifting every later id) or reads an empty line as " ", this is a `VocabularyError`
    naming the line, as are a missing file, a line that is not UTF-8 and a missing
    special token.
    """
    check_input_file(vocab_file, "vocabulary file", VocabularyError)
    with open(vocab_file, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline that ends the last line
    tokens: List[str] = []
    first_line: Dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise VocabularyError(f"{vocab_file}:{number}: not UTF-8{_encoding_hint(data)}; "
                                  "a WordPiece vocabulary is UTF-8 text, one token per line"
                                  ) from None
        if not text:
            raise VocabularyError(f"{vocab_file}:{number}: empty line; every line must hold "
                                  "one token (its id is the line number - 1)")
        token = text.split()[0] if text.strip() else " "
        if token in first_line:
            lost = set(token) <= {"?", "\ufffd"}
            raise VocabularyError(
                f"{vocab_file}:{number}: {token!r} repeats line {first_line[token]}; "
                + ("characters were lost when the file was converted from or to another "
                   "encoding (each one became '?'; e.g. a UTF-8 vocabulary saved as GBK or "
                   "ASCII with replacement): use the released UTF-8 vocab.txt" if lost else
                   "each token may appear once (the original would skip it and shift every "
                   "later id)"))
        first_line[token] = number
        tokens.append(token)
    missing = [token for token in SPECIAL_TOKENS if token not in first_line]
    if missing:
        raise VocabularyError(f"{vocab_file}: no line holds {', '.join(missing)}; a BERT-style "
                              f"vocabulary needs {', '.join(SPECIAL_TOKENS)}")
    return tokens, data


def _encoding_hint(data: bytes) -> str:
    """What a vocabulary that is not UTF-8 looks like instead, for the message.

    >>> _encoding_hint("[PAD]\\n的\\n".encode("gbk"))
    ' (it reads as GBK, the Chinese Windows encoding: convert it with iconv -f GBK -t UTF-8)'
    """
    for encoding, name in (("utf-16", "UTF-16"), ("gbk", "GBK, the Chinese Windows encoding"),
                           ("big5", "Big5"), ("shift_jis", "Shift-JIS")):
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        short = name.split(",")[0]
        return f" (it reads as {name}: convert it with iconv -f {short} -t UTF-8)"
    return ""


def _splits_words(char: str) -> bool:
    # Whitespace, and what Python's str.split() also splits on that survives the clean-up
    # (line and paragraph separators are neither whitespace nor control to the original).
    return _is_whitespace(char) or (char.isspace() and not is_dropped(char))


def _is_nonspacing_mark(char: str) -> bool:
    return unicodedata.category(char) == "Mn"


def basic_tokenize_tf(texts, lower_case: bool):
    """Graph path of `basic_tokenize`: string [batch] -> ragged words [batch, (words)]."""
    import tensorflow as tf

    words = tf.strings.split(_spaced_words_tf(texts, lower_case), sep=" ")
    return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)  # "" between spaces


def _spaced_words_tf(texts, lower_case: bool):
    """The clean-up of `basic_tokenize_tf` before the split: words (and punctuation marks)
    separated by spaces. Each step acts on characters one by one, so applied to single
    characters it tells what each became (the graph offsets)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    texts = tf.strings.regex_replace(texts, character_class(is_dropped), "")
    texts = tf.strings.regex_replace(texts, character_class(_splits_words), " ")
    texts = tf.strings.regex_replace(texts, character_class(is_cjk), r" \0 ")
    if lower_case:
        # ICU's full lower-casing, as Python's str.lower (final sigma, dotted I).
        texts = tf_text.normalize_utf8(tf.strings.lower(texts, encoding="utf-8"), "NFD")
        texts = tf.strings.regex_replace(texts, character_class(_is_nonspacing_mark), "")
    return tf.strings.regex_replace(texts, character_class(_is_punctuation), r" \0 ")


class WordPieceTokenizer:
    """The original FullTokenizer over a BERT-style vocabulary (Chinese ALBERT releases).

    Args:
        vocab_file: The vocab.txt (one token per line; the id is the line number - 1).
        lower_case: Lower-case and strip accents (`do_lower_case`).
    """

    description = "WordPiece vocabulary"
    file_setting = "vocab_file"  # the setting (and flag) that names source_file

    def __init__(self, vocab_file: str, lower_case: bool = True):
        self.tokens, data = read_vocabulary(vocab_file)
        self.vocab: Dict[str, int] = {token: index for index, token in enumerate(self.tokens)}
        self.vocab_file = vocab_file
        self.lower_case = lower_case
        self._sha256 = hashlib.sha256(data).hexdigest()
        self.special_ids = SpecialIds(*(self.vocab[token] for token in SPECIAL_TOKENS))
        self._tf_tokenizer = None

    @property
    def source_file(self) -> str:
        """The file that defines the tokenizer (exports keep it as an asset)."""
        return self.vocab_file

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def model_sha256(self) -> str:
        """The vocabulary file's sha256 (what runs, caches and exports record)."""
        return self._sha256

    def wordpiece(self, word: str) -> List[str]:
        """The pieces of one word (`[UNK]` when it is too long or cannot be cut)."""
        if len(word) > MAX_WORD_CHARACTERS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            else:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> List[str]:
        return [piece for word in basic_tokenize(text, self.lower_case)
                for piece in self.wordpiece(word)]

    def encode(self, text: str) -> List[int]:
        """Ids of one text, without [CLS]/[SEP]."""
        return [self.vocab[piece] for piece in self.tokenize(text)]

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return [self.encode(text) for text in texts]

    def encode_with_offsets(self, text: str) -> Tuple[List[int], List[int], List[int]]:
        """`encode(text)` with each token's character span `[start, end)` in `text` itself
        (an `[UNK]` spans its whole word).

        >>> import os, tempfile
        >>> vocab = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        >>> _ = open(vocab, "w", encoding="utf-8").write("\\n".join(
        ...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "中", "un", "##aff", "##able"]))
        >>> tokenizer = WordPieceTokenizer(vocab)
        >>> text = "中\u200b UNAFFÁBLE!"
        >>> ids, starts, ends = tokenizer.encode_with_offsets(text)
        >>> tokenizer.id_to_piece(ids), [text[s:e] for s, e in zip(starts, ends)]
        (['中', 'un', '##aff', '##able', '[UNK]'], ['中', 'UN', 'AFF', 'ÁBLE', '!'])
        """
        ids, starts, ends = [], [], []
        for word, origins in basic_tokenize_with_origins(text, self.lower_case):
            begin = 0
            for piece in self.wordpiece(word):
                length = (len(word) if piece == "[UNK]"
                          else len(piece) - (len(CONTINUATION) if begin else 0))
                ids.append(self.vocab[piece])
                starts.append(origins[begin])
                ends.append(origins[begin + length - 1] + 1)
                begin += length
        return ids, starts, ends

    def id_to_piece(self, ids):
        """The token of an id (Python or NumPy integer), or the tokens of a sequence."""
        if isinstance(ids, numbers.Integral):
            return self.tokens[ids]
        return [self.tokens[i] for i in ids]

    def is_word_start(self, token_id: int) -> bool:
        """A piece continues a word only when it starts with `##`."""
        return not self.tokens[token_id].startswith(CONTINUATION)

    @property
    def tf_tokenizer(self):
        """tensorflow-text's WordpieceTokenizer over the same vocabulary (created once)."""
        if self._tf_tokenizer is None:
            import tensorflow as tf
            import tensorflow_text as tf_text

            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self.tokens), tf.range(len(self.tokens), dtype=tf.int64)),
                default_value=-1)
            # Bytes are no limit here: words over MAX_WORD_CHARACTERS characters become
            # [UNK] before, as the original counts characters.
            self._tf_tokenizer = tf_text.WordpieceTokenizer(
                table, suffix_indicator=CONTINUATION,
                max_bytes_per_word=4 * MAX_WORD_CHARACTERS, token_out_type=tf.int64,
                unknown_token="[UNK]")
        return self._tf_tokenizer

    def encode_tf(self, texts):
        """Graph path: string tensor [batch] -> int32 ragged ids [batch, (tokens)]."""
        import tensorflow as tf

        words = basic_tokenize_tf(tf.convert_to_tensor(texts, tf.string), self.lower_case)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_WORD_CHARACTERS
        words = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
        ids = self.tf_tokenizer.tokenize(words)  # [batch, (words), (pieces)]
        return tf.cast(ids.merge_dims(-2, -1), tf.int32)

    def encode_with_offsets_tf(self, texts):
        """Graph path of `encode_with_offsets`: string [batch] -> int32 ragged ids, starts
        and ends [batch, (tokens)] (characters of the raw text; see graph_offsets.py)."""
        import tensorflow as tf

        from albert_tf.data import graph_offsets

        texts = tf.convert_to_tensor(texts, tf.string)
        words = basic_tokenize_tf(texts, self.lower_case)  # [batch, (words)]
        chars = graph_offsets.raw_characters(texts)  # [batch, (chars)]
        became = chars.with_flat_values(_spaced_words_tf(chars.flat_values, self.lower_case))
        origins = graph_offsets.word_origins(became, words)  # [batch, (words), (chars)]
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_WORD_CHARACTERS
        cut = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
        ids, begin, end = self.tf_tokenizer.tokenize_with_offsets(cut)
        starts, ends = graph_offsets.wordpiece_offsets(words, origins, ids, begin, end,
                                                       self.special_ids.unk)
        return tuple(tf.cast(tensor.merge_dims(-2, -1), tf.int32)
                     for tensor in (ids, starts, ends))
