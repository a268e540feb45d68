"""WordPiece tokenization (Chinese ALBERT vocabularies): the original FullTokenizer's
behaviour in Python, the same ids in the graph, and clear vocabulary errors."""

import csv
import os
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.data.wordpiece_tokenizer import VocabularyError, WordPieceTokenizer, basic_tokenize
from tests.helpers import SHARED_DATA, UNICODE_TEXTS

CHINESE_VOCAB = os.path.join(SHARED_DATA, "chinese", "vocab.txt")
CHNSENTICORP_DEV = os.path.join(SHARED_DATA, "chnsenticorp", "dev.tsv")
needs_vocab = pytest.mark.skipif(not os.path.exists(CHINESE_VOCAB),
                                 reason="the Chinese vocab.txt is not in ../shared/data")

# Full-width forms, traditional characters, mixed Latin/CJK/digits, emoji, control and
# odd whitespace characters, compatibility ideographs, CJK extension B, Hangul and kana.
CHINESE_TEXTS = [
    "这间酒店环境和服务态度亦算不错，但房间空间太小～～",
    "這間酒店環境和服務態度亦算不錯,但房間空間太小~~",
    "ＡＢＣ１２３，ｆｕｌｌ－ｗｉｄｔｈ！（全角）",
    "iPhone12和MacBook Pro 2020款价格3999元，折扣50%off",
    "😀🤖👍🏽 表情符号 ❤️ 和 emoji 混排",
    "控制\x00字符\x07和\x1b[0m转义\u200b零宽\ufeff",
    "私用区\ue000未分配\u0378标签\U000e0001替换\ufffd软连字符\u00ad",
    "换行\n制表\t回车\r全角空格\u3000不间断\xa0空格\u2028分隔",
    "兼容汉字\uf900\uf901 扩展B𠀀𠀁 日本語のかな カタカナ 한국어",
    "《红楼梦》——曹雪芹著；“引号”‘单引号’…省略号",
    "Café naïve résumé ÀÉÎÕÜ ß Σίσυφος ΣΣ",
    "超长单词" + "a" * 201 + " 和 " + "b" * 200,
    "",
    "   ",
]


def write_vocab(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def chinese():
    if not os.path.exists(CHINESE_VOCAB):
        pytest.skip("the Chinese vocab.txt is not in ../shared/data")
    return WordPieceTokenizer(CHINESE_VOCAB)


@needs_vocab
def test_the_released_vocabulary_reads_with_bert_special_ids(chinese):
    assert chinese.vocab_size == 21128
    assert chinese.special_ids == (0, 100, 101, 102, 103)
    assert chinese.special_ids.mask == 103


def test_basic_tokenization_follows_the_original_rules():
    # CJK characters alone, punctuation split off, accents stripped and lower-cased,
    # control characters dropped, Hangul and kana kept whole (they are not CJK to it;
    # lower-casing decomposes Hangul syllables into jamo, as the original's NFD does).
    assert basic_tokenize("中国Hello,Wörld!\x07ＡＢ 한국어 かな", True) == [
        "中", "国", "hello", ",", "world", "!", "ａｂ", unicodedata.normalize("NFD", "한국어"),
        "かな"]
    assert basic_tokenize("Wörld\u2028Ab", False) == ["Wörld", "Ab"]
    assert basic_tokenize("  \t\n", True) == []


def test_wordpiece_is_greedy_longest_match_first_and_unknown_words_are_whole(tmp_path):
    vocab = write_vocab(tmp_path / "vocab.txt", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                 "un", "##aff", "##a", "##able", "a", "##x"])
    tokenizer = WordPieceTokenizer(vocab)
    assert tokenizer.tokenize("unaffable b") == ["un", "##aff", "##able", "[UNK]"]
    assert tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert tokenizer.tokenize("unaax") == ["un", "##a", "##a", "##x"]
    assert tokenizer.tokenize("unafz") == ["[UNK]"]  # no piece for "z": the whole word
    assert tokenizer.tokenize("a" * 200) == ["a"] + ["##a"] * 199
    assert tokenizer.tokenize("a" * 201) == ["[UNK]"]
    assert tokenizer.id_to_piece(np.int64(5)) == "un"
    assert tokenizer.id_to_piece(np.array([5, 6])) == ["un", "##aff"]
    assert tokenizer.is_word_start(tokenizer.vocab["un"])
    assert not tokenizer.is_word_start(tokenizer.vocab["##aff"])


@pytest.mark.parametrize("lines, message", [
    (["[PAD]", "[UNK]", "", "[CLS]", "[SEP]", "[MASK]"], r"vocab.txt:3: empty line"),
    (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "的", "的"],
     r"vocab.txt:7: '的' repeats line 6"),
    (["[PAD]", "[UNK]", "[CLS]", "[SEP]"], r"vocab.txt: no line holds \[MASK\]"),
])
def test_a_bad_vocabulary_is_a_clear_error_naming_the_line(tmp_path, lines, message):
    with pytest.raises(VocabularyError, match=message):
        WordPieceTokenizer(write_vocab(tmp_path / "vocab.txt", lines))


def test_missing_and_binary_vocabularies_are_clear_errors(tmp_path):
    with pytest.raises(VocabularyError, match="nope.txt: vocabulary file not found"):
        WordPieceTokenizer(str(tmp_path / "nope.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(VocabularyError, match="binary.txt:2: not UTF-8"):
        WordPieceTokenizer(str(binary))


@needs_vocab
@pytest.mark.parametrize("lower_case", [True, False])
def test_graph_ids_equal_python_ids_on_chinese_and_unicode_text(lower_case):
    tokenizer = WordPieceTokenizer(CHINESE_VOCAB, lower_case=lower_case)
    texts = CHINESE_TEXTS + UNICODE_TEXTS
    if os.path.exists(CHNSENTICORP_DEV):
        with open(CHNSENTICORP_DEV, encoding="utf-8", newline="") as handle:
            texts += [row["text_a"] for row in csv.DictReader(handle, delimiter="\t",
                                                                 quoting=csv.QUOTE_NONE)]
    graph = tokenizer.encode_tf(tf.constant(texts)).to_list()
    mismatched = [text for text, ids in zip(texts, graph) if ids != tokenizer.encode(text)]
    assert mismatched == []
    unknown = sum(ids.count(tokenizer.special_ids.unk) for ids in graph)
    assert unknown < 0.01 * sum(len(ids) for ids in graph)  # the vocabulary fits the text


def test_vocabulary_lines_read_as_the_originals_load_vocab(tmp_path):
    """First field of a line; a line of whitespace alone is the token " "."""
    vocab = write_vocab(tmp_path / "vocab.txt", ["[PAD]\t0", "[UNK]", "[CLS]", "[SEP]",
                                                 "[MASK]", "\u2028", "你 12", "好\r"])
    tokenizer = WordPieceTokenizer(vocab)
    assert tokenizer.tokens == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", " ", "你", "好"]
    assert tokenizer.encode("你好") == [6, 7]
