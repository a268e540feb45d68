import os
import subprocess
import sys

import pytest
import sentencepiece as spm

from albert_tf.data.text_preprocessing import preprocess_text, preprocess_text_tf
from albert_tf.data.sentencepiece_tokenizer import (SPECIAL_PIECES, AlbertTokenizer, TokenizerError,
                                         is_start_piece, train_sentencepiece)
from tests.helpers import UNICODE_TEXTS
from tests.reference import original_is_start_piece_sp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



@pytest.fixture(scope="module")
def unicode_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("spm")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(UNICODE_TEXTS * 3 + [
        "the quick brown fox jumps over the lazy dog",
        "ALBERT shares parameters across layers",
    ] * 20), encoding="utf-8")
    return train_sentencepiece([str(corpus)], str(folder / "spm"), vocab_size=300)


def test_special_ids_follow_albert_layout(unicode_model):
    tokenizer = AlbertTokenizer(unicode_model)
    assert tuple(tokenizer.id_to_piece(list(range(5)))) == SPECIAL_PIECES
    # control symbols are never produced from text that spells them
    assert {2, 3, 4}.isdisjoint(tokenizer.encode("[MASK] [CLS] [SEP]"))
    assert tokenizer.vocab_size <= 300
    assert os.path.exists(unicode_model[:-len(".model")] + ".vocab")


@pytest.mark.parametrize("lower_case, keep_accents", [(True, False), (False, False), (True, True)])
def test_python_and_graph_paths_give_identical_ids(unicode_model, lower_case, keep_accents):
    tokenizer = AlbertTokenizer(unicode_model, lower_case=lower_case, keep_accents=keep_accents)
    graph_texts = preprocess_text_tf(UNICODE_TEXTS, lower_case, keep_accents).numpy()
    for text, graph_text in zip(UNICODE_TEXTS, graph_texts):
        assert graph_text.decode("utf-8") == preprocess_text(text, lower_case, keep_accents)
    assert tokenizer.encode_tf(UNICODE_TEXTS).to_list() == tokenizer.encode_batch(UNICODE_TEXTS)
    assert tokenizer.encode_batch(UNICODE_TEXTS) == [tokenizer.encode(t) for t in UNICODE_TEXTS]


def test_preprocessing_matches_the_original_rules():
    # The original keeps LaTeX quotes (Hugging Face would turn them into '"').
    assert preprocess_text("  A  ``b''  C ") == "a ``b'' c"
    assert preprocess_text("Café", lower_case=False) == "Cafe"
    assert preprocess_text("Café", keep_accents=True) == "café"
    # Devanagari vowel signs have combining class 0 and survive accent stripping.
    assert preprocess_text("हिन्दी") == "हिनदी"


def test_word_starts_follow_the_original_rule_piece_by_piece(unicode_model):
    tokenizer = AlbertTokenizer(unicode_model)
    pieces = tokenizer.id_to_piece(list(range(tokenizer.vocab_size)))
    extra = ["▁the", "ing", ",", "s,", '"', "'", "'s", "=", ">", "<x", "1999", "€", "£", "Ab",
             "x-y", "é", "日本", "[CLS]", "\\", ""]
    for piece in pieces + extra:
        assert is_start_piece(piece) == original_is_start_piece_sp(piece), repr(piece)
    assert [tokenizer.is_word_start(i) for i in range(tokenizer.vocab_size)] == [
        original_is_start_piece_sp(piece) for piece in pieces]
    # Where the original departs from "starts with ▁": punctuation, digits, non-ASCII.
    differ = [p for p in pieces if is_start_piece(p) != p.startswith("▁")]
    assert differ and any(not p.isascii() for p in differ)


def test_missing_and_wrongly_laid_out_models_are_clear_errors(tmp_path):
    with pytest.raises(TokenizerError, match="nope.model: SentencePiece model file not found"):
        AlbertTokenizer(str(tmp_path / "nope.model"))
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"not a model")
    with pytest.raises(TokenizerError, match="garbage.model: not a SentencePiece model"):
        AlbertTokenizer(str(garbage))
    corpus = tmp_path / "c.txt"
    corpus.write_text("some plain words here and there\n" * 50)
    spm.SentencePieceTrainer.Train(input=str(corpus), model_prefix=str(tmp_path / "plain"),
                                   vocab_size=20, minloglevel=2)
    with pytest.raises(TokenizerError, match=r"ids 0-4 must be \['<pad>', '<unk>', '\[CLS\]'"):
        AlbertTokenizer(str(tmp_path / "plain.model"))


def test_vocabulary_must_exceed_the_special_pieces(tmp_path):
    with pytest.raises(ValueError, match="vocab_size must exceed 5, got 5"):
        train_sentencepiece([str(tmp_path / "unused.txt")], str(tmp_path / "m"), vocab_size=5)


def test_training_on_empty_text_fails_clearly(tmp_path):
    corpus = tmp_path / "empty.txt"
    corpus.write_text("\n   \n\n")
    with pytest.raises(ValueError, match="empty.txt: every line is empty"):
        train_sentencepiece([str(corpus)], str(tmp_path / "m"), vocab_size=50)
    assert not (tmp_path / "m.model").exists()


def test_command_line_trains_a_model_and_reports_bad_patterns(tmp_path):
    corpus = tmp_path / "a.txt"
    corpus.write_text("one two three four five six seven eight nine ten\n" * 30)
    command = [sys.executable, os.path.join(ROOT, "train_sentencepiece.py"),
               f"--model_prefix={tmp_path / 'out' / 'spm'}", "--vocab_size=40"]
    result = subprocess.run(command + [f"--input_file={tmp_path}/*.txt"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert AlbertTokenizer(str(tmp_path / "out" / "spm.model")).encode("one two")
    result = subprocess.run(command + [f"--input_file={tmp_path}/*.txt,{tmp_path}/missing*.txt"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "missing*.txt' matches no file" in result.stderr and "Traceback" not in result.stderr
