"""Chinese whole-word masking (--word_segmenter=jieba) on the shared Chinese data: the
marks change no id and join exactly jieba's words, and records written with them mask
whole words (at write time and dynamically) with the usual statistics."""

import collections
import filecmp
import os

import jieba
import numpy as np
import pytest

from albert_tf.data.masking import ngram_probabilities
from albert_tf.data.pretraining_data import PretrainingDataSettings, create_pretraining_data
from albert_tf.data.pretraining_dataset import DynamicMasking, mask_batch
from albert_tf.data.word_segmentation import (ChineseWordSegmenter, WholeWordEncoder,
                                              token_boundary_of, unmarked)
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer, is_cjk, is_dropped
from tests.helpers import SHARED_DATA, UNICODE_TEXTS
from tests.records import read_records

CHINESE = os.path.join(SHARED_DATA, "chinese")
VOCAB = os.path.join(CHINESE, "vocab.txt")
NEWS = os.path.join(CHINESE, "news_zh_1.txt")
CHNSENTICORP_DEV = os.path.join(SHARED_DATA, "chnsenticorp", "dev.tsv")
pytestmark = pytest.mark.skipif(
    not all(os.path.exists(p) for p in (VOCAB, NEWS, CHNSENTICORP_DEV)),
    reason="the Chinese data is not in ../shared/data")
SEQ, PREDICTIONS, NGRAM = 128, 20, 3


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(VOCAB)


def news_lines():
    with open(NEWS, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def jieba_continuations(text):
    """Per CJK character of `text`: True where it follows a CJK character of the same
    jieba word (jieba's module-level segmenter, not the one under test)."""
    flags = []
    for word in jieba.lcut("".join(char for char in text if not is_dropped(char))):
        flags += [k > 0 and is_cjk(word[k - 1]) for k, char in enumerate(word) if is_cjk(char)]
    return flags


def test_marks_change_no_id_and_join_exactly_jiebas_words(tokenizer):
    encoder = WholeWordEncoder(tokenizer, ChineseWordSegmenter())
    with open(CHNSENTICORP_DEV, encoding="utf-8") as handle:
        reviews = [line.split("\t", 1)[1] for line in handle.read().splitlines()[1:]]
    texts = reviews[:400] + news_lines() + UNICODE_TEXTS + ["中\u200b国人民\x00银行"]
    joined = cjk_tokens = 0
    for text in texts:
        marked = encoder.encode(text)
        assert unmarked(marked).tolist() == tokenizer.encode(text), text
        pieces = tokenizer.tokenize(text)
        # The tokens that came from CJK characters are the single-character CJK pieces
        # (and [UNK] where the vocabulary lacks the character).
        cjk_positions = [i for i, (piece, word) in enumerate(zip(
            pieces, _source_words(tokenizer, text))) if len(word) == 1 and is_cjk(word)]
        expected = jieba_continuations(text)
        assert len(cjk_positions) == len(expected)
        assert [marked[i] < 0 for i in cjk_positions] == expected, text
        assert sum(m < 0 for m in marked) == sum(expected)  # nothing else is marked
        joined += sum(expected)
        cjk_tokens += len(expected)
    # 人民银行 with a zero-width space dropped from 中国: the words of the cleaned text.
    assert encoder.encode("中\u200b国人民\x00银行")[1] < 0
    assert cjk_tokens > 20000 and 0.3 < joined / cjk_tokens < 0.6


def _source_words(tokenizer, text):
    """The basic-tokenizer word each piece of `tokenizer.tokenize(text)` came from."""
    from albert_tf.data.wordpiece_tokenizer import basic_tokenize

    return [word for word in basic_tokenize(text, tokenizer.lower_case)
            for _ in tokenizer.wordpiece(word)]


def test_boundaries_keep_wordpiece_continuations(tokenizer):
    encoder = WholeWordEncoder(tokenizer, ChineseWordSegmenter())
    marked = encoder.encode("我们在北京使用tensorflow和unaffable工具")
    pieces = tokenizer.id_to_piece(unmarked(marked).tolist())
    word_starts = np.array([tokenizer.is_word_start(i) for i in range(tokenizer.vocab_size)])
    boundary = token_boundary_of(marked, word_starts)
    words = []
    for piece, start in zip(pieces, boundary):
        piece = piece.removeprefix("##")
        if start:
            words.append(piece)
        else:
            words[-1] += piece
    assert words == ["我们", "在", "北京", "使用", "tensorflow", "和", "unaffable", "工具"]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    output = tmp_path_factory.mktemp("wwm") / "train.tfrecord"
    manifest = create_pretraining_data(
        [NEWS], str(output), None,
        PretrainingDataSettings(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
                                dupe_factor=5, ngram=NGRAM, word_segmenter="jieba"),
        vocab_file=VOCAB)
    return manifest, read_records(manifest["output_files"])


def words_of(boundary, length):
    """[start, end) of each word by token_boundary; [CLS]/[SEP] excluded by the caller."""
    starts = [i for i in range(length) if boundary[i]] + [length]
    return list(zip(starts[:-1], starts[1:]))


def test_records_mask_whole_jieba_words_at_the_usual_rates(records, tokenizer):
    manifest, rows = records
    special = tokenizer.special_ids
    corpus_words = {word for line in news_lines() for word in jieba.lcut(line)}
    replacements = collections.Counter()
    masked_word_lengths, all_word_lengths = [], []
    continuing_cjk = cjk = 0
    for record in rows:
        length = int(record["input_mask"].sum())
        weights = record["masked_lm_weights"] > 0
        positions = record["masked_lm_positions"][weights]
        labels = record["masked_lm_ids"][weights]
        original = record["input_ids"].copy()
        original[positions] = labels
        after = record["input_ids"][positions]
        replacements["mask"] += int((after == special.mask).sum())
        replacements["kept"] += int((after == labels).sum())
        replacements["random"] += int(((after != special.mask) & (after != labels)).sum())
        target = min(PREDICTIONS, max(1, round(length * 0.15)))  # [CLS]/[SEP] counted
        assert len(positions) <= target
        pieces = tokenizer.id_to_piece(original[:length])
        boundary = record["token_boundary"]
        chosen = set(positions.tolist())
        for start, end in words_of(boundary, length):
            span = set(range(start, end))
            if pieces[start] in ("[CLS]", "[SEP]"):
                continue
            assert chosen.isdisjoint(span) or chosen.issuperset(span), pieces[start:end]
            cjk_word = all(len(p) == 1 and is_cjk(p) for p in pieces[start:end])
            if cjk_word:
                all_word_lengths.append(end - start)
                if chosen.issuperset(span):
                    masked_word_lengths.append(end - start)
                group = "".join(pieces[start:end])
                if end - start > 1 and pieces[end] == "[SEP]":  # truncation may cut it
                    assert any(word.startswith(group) for word in corpus_words), group
                elif end - start > 1:  # a joined group is one of jieba's words
                    assert group in corpus_words
                continuing_cjk += end - start - 1
                cjk += end - start
    total = sum(replacements.values())
    assert abs(replacements["mask"] / total - 0.8) < 0.03
    assert abs(replacements["random"] / total - 0.1) < 0.02
    assert 0.13 < manifest["statistics"]["masked_fraction"] < 0.16
    # Words of several characters are masked whole about as often as they occur.
    assert np.mean(all_word_lengths) > 1.4
    assert abs(np.mean(masked_word_lengths) / np.mean(all_word_lengths) - 1) < 0.1
    # The records' joins are jieba's over the corpus (records repeat and truncate text).
    corpus_flags = [flag for line in news_lines() for flag in jieba_continuations(line)]
    assert abs(continuing_cjk / cjk - np.mean(corpus_flags)) < 0.03
    # n-grams counted in words: the drawn n follows p(n) = (6, 3, 2) / 11.
    np.testing.assert_allclose(manifest["statistics"]["drawn_ngram_histogram"],
                               ngram_probabilities(NGRAM), atol=0.03)
    assert manifest["options"]["word_segmenter"] == "jieba"


def test_dynamic_masking_masks_the_same_whole_words(records, tokenizer):
    _, rows = records
    input_ids = np.stack([row["input_ids"] for row in rows])
    for row_ids, row in zip(input_ids, rows):  # unmask: the ids as written unmasked
        weights = row["masked_lm_weights"] > 0
        row_ids[row["masked_lm_positions"][weights]] = row["masked_lm_ids"][weights]
    input_mask = np.stack([row["input_mask"] for row in rows])
    boundary = np.stack([row["token_boundary"] for row in rows])
    special = tokenizer.special_ids
    masking = DynamicMasking(tokenizer.vocab_size, seed=7, special_ids=special)
    _, positions, _, weights = mask_batch(input_ids, input_mask, boundary, 0, PREDICTIONS,
                                          masking)
    split_words = multi_character = 0
    for row in range(len(rows)):
        chosen = set(positions[row][weights[row] > 0].tolist())
        length = int(input_mask[row].sum())
        for start, end in words_of(boundary[row], length):
            if input_ids[row, start] in (special.cls, special.sep):
                continue
            span = set(range(start, end))
            split_words += not (chosen.isdisjoint(span) or chosen.issuperset(span))
            multi_character += end - start > 1 and chosen.issuperset(span)
    assert split_words == 0 and multi_character > len(rows)


def test_output_does_not_depend_on_the_worker_count(tmp_path):
    outputs = []
    for workers in (1, 2):
        manifest = create_pretraining_data(
            [NEWS], str(tmp_path / f"w{workers}" / "train.tfrecord"), None,
            PretrainingDataSettings(max_seq_length=64, max_predictions_per_seq=10,
                                    dupe_factor=2, word_segmenter="jieba"),
            num_workers=workers, num_output_shards=2, vocab_file=VOCAB)
        outputs.append(manifest["output_files"])
    for one, two in zip(*outputs):
        assert filecmp.cmp(one, two, shallow=False)


def test_a_user_dictionary_joins_its_words(tmp_path, tokenizer):
    text = "阿尔伯特模型在中文上预训练"
    plain = WholeWordEncoder(tokenizer, ChineseWordSegmenter()).encode(text)
    user_dict = tmp_path / "user.txt"
    user_dict.write_text("阿尔伯特模型 100 n\n", encoding="utf-8")
    custom = WholeWordEncoder(tokenizer, ChineseWordSegmenter(str(user_dict))).encode(text)
    assert unmarked(custom).tolist() == unmarked(plain).tolist()
    assert [m < 0 for m in custom[:6]] == [False, True, True, True, True, True]
    assert not all(m < 0 for m in plain[1:6])


@pytest.mark.parametrize("line, message", [
    ("云计算 5 n extra", "4 fields; a jieba user dictionary line is"),
    ("云计算 5 N1", "tag 'N1' is not lower-case letters"),
    ("云计算 3.5", "frequency '3.5' is not a non-negative integer"),
])
def test_a_user_dictionary_line_jieba_would_misread_is_refused(tmp_path, line, message):
    from albert_tf.data.word_segmentation import SegmenterError, check_user_dict

    path = tmp_path / "dict.txt"
    path.write_text("\ufeff区块链 n\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(SegmenterError, match=f"dict.txt:3: {message}"):
        check_user_dict(str(path))
