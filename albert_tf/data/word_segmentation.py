"""Chinese whole-word masking: a word segmenter decides which Chinese characters mask
together.

WordPiece makes every CJK character its own token, so whole-word masking over WordPiece
alone masks single characters. With a segmenter (jieba, as brightmart/albert_zh uses;
Chinese-BERT-wwm used LTP) the characters of one segmented word form one word for masking:
each character after the first gets `token_boundary` 0, so masking when the records are
written and dynamic masking in the input pipeline both mask the word whole. Only adjacent
CJK characters inside one segmented word are joined; every other token keeps WordPiece's
boundary (a `##` piece continues its word, anything else starts one). jieba is
deterministic and reads only its bundled dictionary (and an optional user dictionary):
nothing is downloaded.

Inside create_pretraining_data, a token that continues a segmented word travels as `~id`
(a negative number) from tokenization to the instance writer (`token_boundary_of`,
`unmarked`), so the token caches and the segment pairing carry no second array.

Example:

>>> import os, tempfile
>>> vocab = os.path.join(tempfile.mkdtemp(), "vocab.txt")
>>> _ = open(vocab, "w", encoding="utf-8").write("\\n".join(
...     ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "我", "爱", "北", "京", "天", "安", "门",
...      "。"]) + "\\n")
>>> tokenizer = WordPieceTokenizer(vocab)
>>> encoder = WholeWordEncoder(tokenizer, ChineseWordSegmenter())
>>> marked = encoder.encode("我爱北京天安门。")
>>> tokenizer.id_to_piece(unmarked(marked).tolist())
['我', '爱', '北', '京', '天', '安', '门', '。']
>>> word_starts = np.ones(tokenizer.vocab_size, np.int64)
>>> token_boundary_of(marked, word_starts).tolist()   # 我 | 爱 | 北京 | 天安门 | 。
[1, 1, 1, 0, 1, 0, 0, 1]
"""

import logging
import re
from typing import List, Optional, Sequence

import numpy as np

from albert_tf.data.wordpiece_tokenizer import (WordPieceTokenizer, basic_tokenize, is_cjk,
                                                 is_dropped)
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import check_input_file

SEGMENTERS = ("none", "jieba")


class SegmenterError(AlbertTfError, ValueError):
    """A segmenter setting or dictionary that cannot be used."""


_TAG = re.compile(r"[a-z]+")


def check_user_dict(path: str) -> None:
    """Refuses a jieba user dictionary that jieba would misread silently: jieba takes
    `word [frequency] [tag]` per line and turns anything else into odd words (`词 -5` is
    the word "词 -5"). A line must hold a word, optionally a non-negative integer
    frequency, optionally a lower-case tag; the error names the file and line.

    >>> import tempfile
    >>> path = tempfile.mkstemp(suffix=".txt")[1]
    >>> _ = open(path, "w", encoding="utf-8").write("云计算 5 n\\n区块链 n\\n深度学习 -3\\n")
    >>> check_user_dict(path)
    Traceback (most recent call last):
    ...
    albert_tf.data.word_segmentation.SegmenterError: ...:3: frequency '-3' is not a non-negative integer; a jieba user dictionary line is 'word [frequency] [tag]'
    """
    check_input_file(path, "segmenter user dictionary", SegmenterError)
    usage = "a jieba user dictionary line is 'word [frequency] [tag]'"
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").lstrip("\ufeff").strip()
            except UnicodeDecodeError:
                raise SegmenterError(f"{path}:{number}: not UTF-8; {usage}, in UTF-8") from None
            fields = line.split()
            if not fields:
                continue
            if len(fields) > 3:
                raise SegmenterError(f"{path}:{number}: {len(fields)} fields; {usage}")
            rest = fields[1:]
            if len(rest) == 1 and _TAG.fullmatch(rest[0]):
                continue  # word tag
            if rest and not rest[0].isdigit():
                raise SegmenterError(f"{path}:{number}: frequency {rest[0]!r} is not a "
                                     f"non-negative integer; {usage}")
            if len(rest) == 2 and not _TAG.fullmatch(rest[1]):
                raise SegmenterError(f"{path}:{number}: tag {rest[1]!r} is not lower-case "
                                     f"letters; {usage}")


class ChineseWordSegmenter:
    """jieba's word segmentation (its default dictionary and HMM for unknown words).

    Args:
        user_dict: Optional jieba user dictionary: UTF-8, one `word [frequency] [tag]` per
            line, for domain words the default dictionary lacks.
    """

    def __init__(self, user_dict: Optional[str] = None):
        import jieba  # only Chinese whole-word masking needs it

        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." on stderr
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        if user_dict:
            check_user_dict(user_dict)
            self._jieba.load_userdict(user_dict)

    def words(self, text: str) -> List[str]:
        """The words of `text`, in order (their concatenation is `text`)."""
        return list(self._jieba.cut(text))

    def cjk_word_starts(self, text: str) -> List[bool]:
        """For each CJK character of `text` (after the tokenizer's clean-up), in order:
        False where it continues the CJK character before it in the same word."""
        cleaned = "".join(char for char in text if not is_dropped(char))
        starts = []
        for word in self.words(cleaned):
            after_cjk = False
            for char in word:
                cjk = is_cjk(char)
                if cjk:
                    starts.append(not after_cjk)
                after_cjk = cjk
        return starts


class WholeWordEncoder:
    """Encodes lines as `tokenizer.encode_batch` does, with each token that continues a
    segmented Chinese word marked as `~id`.

    Args:
        tokenizer: The WordPiece tokenizer (the Chinese releases').
        segmenter: Decides the words.
    """

    def __init__(self, tokenizer: WordPieceTokenizer, segmenter: ChineseWordSegmenter):
        self.tokenizer, self.segmenter = tokenizer, segmenter

    def encode(self, text: str) -> List[int]:
        starts = self.segmenter.cjk_word_starts(text)
        ids: List[int] = []
        cjk_seen = 0
        for word in basic_tokenize(text, self.tokenizer.lower_case):
            pieces = [self.tokenizer.vocab[piece] for piece in self.tokenizer.wordpiece(word)]
            if len(word) == 1 and is_cjk(word):
                if cjk_seen < len(starts) and not starts[cjk_seen]:
                    pieces = [~pieces[0]]
                cjk_seen += 1
            ids.extend(pieces)
        if cjk_seen != len(starts):
            raise SegmenterError(f"the segmenter saw {len(starts)} Chinese characters where "
                                 f"the tokenizer saw {cjk_seen}, in {text[:80]!r}")
        return ids

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return [self.encode(text) for text in texts]


def unmarked(marked_ids: Sequence[int]) -> np.ndarray:
    """The token ids, without the continuation marks."""
    ids = np.asarray(marked_ids, np.int64)
    return np.where(ids < 0, ~ids, ids)


def token_boundary_of(marked_ids: Sequence[int], word_starts: np.ndarray) -> np.ndarray:
    """Per token, 1 where it starts a word: `word_starts[id]` (the tokenizer's rule, with
    [CLS]/[SEP] set), and 0 for a token marked as continuing a segmented word."""
    ids = np.asarray(marked_ids, np.int64)
    return np.where(ids < 0, 0, np.asarray(word_starts)[np.where(ids < 0, ~ids, ids)])
