"""Question-answering data on the shared SQuAD and CMRC 2018 files: offsets that map every
token back to the raw text, doc-stride windows, and the proof that alignment is lossless
(oracle logits on every gold span score EM >= 99% under the official metrics)."""

import json
import os

import numpy as np
import pytest

from albert_tf.data.squad import (QAExample, SquadDataError, best_spans, convert_examples,
                                  doc_windows, group_by_example, max_context_windows,
                                  read_squad)
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer
from albert_tf.training.squad_metrics import evaluate_cmrc, evaluate_v1, evaluate_v2
from tests.helpers import SHARED_DATA, UNICODE_TEXTS

SQUAD = os.path.join(SHARED_DATA, "squad")
CMRC_DEV = os.path.join(SHARED_DATA, "cmrc2018", "cmrc2018_dev.json")
VOCAB = os.path.join(SHARED_DATA, "chinese", "vocab.txt")
needs_squad = pytest.mark.skipif(not os.path.exists(os.path.join(SQUAD, "dev-v1.1.json")),
                                 reason="SQuAD is not in ../shared/data")
needs_cmrc = pytest.mark.skipif(not (os.path.exists(CMRC_DEV) and os.path.exists(VOCAB)),
                                reason="CMRC 2018 is not in ../shared/data")


def golds_of(path):
    return {str(qa["id"]): [answer["text"] for answer in qa["answers"]]
            for article in json.load(open(path, encoding="utf-8"))["data"]
            for paragraph in article["paragraphs"] for qa in paragraph["qas"]}


def check_offsets(tokenizer, texts, normalize):
    """ids equal encode(); spans ordered, inside the text; each span, cleaned the way the
    tokenizer cleans, holds the piece (returns the share of such pieces: a character that
    decomposes into several pieces, such as a Hangul syllable into jamo, gives each the
    whole character; a final sigma lower-cases differently alone)."""
    agree = total = 0
    for text in texts:
        ids, starts, ends = tokenizer.encode_with_offsets(text)
        assert ids == tokenizer.encode(text), text
        assert all(0 <= s <= e <= len(text) for s, e in zip(starts, ends))
        assert starts == sorted(starts)
        for token_id, start, end in zip(ids, starts, ends):
            piece = tokenizer.id_to_piece(token_id)
            if piece in ("[UNK]", "<unk>"):
                continue
            total += 1
            agree += piece.lstrip("▁").removeprefix("##") in normalize(text[start:end])
    return agree / max(total, 1)


def test_sentencepiece_offsets_cover_exactly_their_pieces(squad_tokenizer):
    contexts = [example.context for example in read_squad(
        os.path.join(SQUAD, "dev-v1.1.json"), False)[0]]
    share = check_offsets(squad_tokenizer, sorted(set(contexts)) + UNICODE_TEXTS,
                          squad_tokenizer.preprocess)
    assert share > 0.995, share


@needs_cmrc
def test_wordpiece_offsets_cover_exactly_their_pieces():
    from albert_tf.data.wordpiece_tokenizer import basic_tokenize

    tokenizer = WordPieceTokenizer(VOCAB)
    contexts = sorted({e.context for e in read_squad(CMRC_DEV, False)[0]})[:300]
    share = check_offsets(tokenizer, contexts + UNICODE_TEXTS,
                          lambda text: "".join(basic_tokenize(text, True)))
    assert share > 0.9999, share


def test_windows_and_max_context_follow_the_original():
    assert doc_windows(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]
    assert doc_windows(3, 4, 3) == [(0, 3)]
    assert doc_windows(9, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 3)]
    best = max_context_windows(doc_windows(10, 4, 3), 10)
    # Token 3: window 0 sees (3 left, 0 right), window 1 (0, 3): a tie of 0, the earlier
    # window wins. Token 4: window 1 sees (1, 2), window 0 does not hold it. Token 7:
    # window 2 sees (1, 2), and window 1 ends at 6.
    assert [best[3] == w for w in range(3)] == [True, False, False]
    assert [best[4] == w for w in range(3)] == [False, True, False]
    assert [best[7] == w for w in range(3)] == [False, False, True]
    assert best.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]  # token 6: a tie, window 1


def oracle_predictions(examples, features):
    """Logits peaked on each example's first gold answer, run through post-processing."""
    spans = {}
    for feature in features:  # training features carry the gold positions
        if not feature.is_impossible:
            spans.setdefault(feature.example_index, []).append(feature)
    predictions = {}
    for example_index, group in spans.items():
        starts, ends = [], []
        for feature in group:
            start = np.zeros(len(feature.input_ids))
            end = np.zeros(len(feature.input_ids))
            start[feature.start_position] = end[feature.end_position] = 10.0
            starts.append(start)
            ends.append(end)
        best = best_spans(examples[example_index], group, starts, ends, max_answer_length=1000)
        predictions[examples[example_index].qas_id] = best[0].text
    return predictions


def test_oracle_logits_recover_the_gold_answers_of_squad_v1(squad_tokenizer):
    path = os.path.join(SQUAD, "dev-v1.1.json")
    examples, stats = read_squad(path, is_training=True)  # first answer as the target
    assert stats.questions == 810 and stats.answer_text_mismatch == 0
    features = convert_examples(examples, squad_tokenizer, max_seq_length=128,
                                doc_stride=32, max_query_length=32, is_training=True)
    assert len(features) > len(examples)  # long contexts take several windows
    predictions = oracle_predictions(examples, features)
    assert len(predictions) == 810
    results = evaluate_v1(golds_of(path), predictions)
    misses = [(e.qas_id, e.answers[0], predictions[e.qas_id]) for e in examples
              if predictions[e.qas_id] != e.answers[0]]
    # The misses are answers inside a token ("2" of "12", "L" of "NFL", "WBT-FM (99.3 FM)"
    # of its piece "),") and the gold spans that point into another word ("two" inside
    # "Westwood"): BENCHMARKS.md lists them.
    assert results["exact_match"] >= 99.0, misses
    assert len(misses) <= 8, misses


@needs_cmrc
def test_oracle_logits_recover_the_gold_answers_of_cmrc2018():
    tokenizer = WordPieceTokenizer(VOCAB)
    examples, stats = read_squad(CMRC_DEV, is_training=True)
    features = convert_examples(examples, tokenizer, max_seq_length=256, doc_stride=64,
                                max_query_length=48, is_training=True)
    predictions = oracle_predictions(examples, features)
    golds = golds_of(CMRC_DEV)
    results = evaluate_cmrc({i: golds[i] for i in predictions}, predictions)
    misses = [(e.qas_id, e.answers[0], predictions.get(e.qas_id)) for e in examples
              if predictions.get(e.qas_id) != e.answers[0]]
    assert results["exact_match"] >= 99.0, misses[:20]
    assert len(predictions) == stats.questions > 3000


def test_official_v2_metrics_and_the_null_threshold_search():
    golds = {"a": ["Paris"], "b": [], "c": ["1889", "in 1889"], "d": []}
    predictions = {"a": "Paris", "b": "London", "c": "1889", "d": ""}
    null_odds = {"a": 0.1, "b": 0.9, "c": 0.2, "d": 0.5}
    results = evaluate_v2(golds, predictions, null_odds)
    # Without a threshold b (answered, unanswerable) is wrong: 3 of 4.
    assert results["exact"] == 75.0 and results["HasAns_exact"] == 100.0
    assert results["NoAns_exact"] == 50.0 and results["NoAns_total"] == 2
    # Abstaining above odds 0.2 (d and b) makes all 4 right: the search walks a (0.1) and
    # c (0.2), +1 each from the 2 unanswerable, and keeps the first best, 0.2.
    assert results["best_exact"] == 100.0 and results["best_exact_thresh"] == 0.2
    assert evaluate_v2(golds, predictions, null_odds, null_threshold=0.2)["exact"] == 100.0
    assert evaluate_v2(golds, predictions, null_odds, null_threshold=0.1)["exact"] == 75.0


def test_official_v1_and_cmrc_metrics():
    assert evaluate_v1({"q": ["The Broncos"]}, {"q": "broncos."})["exact_match"] == 100.0
    assert evaluate_v1({"q": ["w x y z"], "r": ["x"]}, {"q": "x y"})["f1"] == pytest.approx(
        100 * (2 * 1 * 0.5 / 1.5) / 2)  # r has no prediction: 0
    results = evaluate_cmrc({"q": ["北京大学", "北大"]}, {"q": "北京大学。"})
    assert results["exact_match"] == 100.0 and results["f1"] == 100.0
    # 4 gold characters, 6 predicted, 4 in common: F1 = 2 * (4/6) * 1 / (4/6 + 1) = 0.8
    assert evaluate_cmrc({"q": ["北京大学"]}, {"q": "在北京大学里"})["f1"] == pytest.approx(80.0)


@pytest.mark.parametrize("gold, prediction, f1", [
    # Before: a regex split 6,300 / 41.5 / don't into pieces, scoring these 0.8, 0.5, 0.857.
    ("售价6,300元", "6,300元", 2 / 3),  # ['售', '价', '6,300', '元'] vs ['6,300', '元']
    ("41.5", "41", 0.0),  # one token each, and different
    ("don't know", "don't", 0.8),  # ['do', "n't", 'know'] vs ['do', "n't"]
    ("iPhone 6手机", "iphone 6", 2 / 3),  # lower-cased Latin between Chinese characters
    ("约合$41.5。", "$41.5", 2 / 3),  # ['约', '合', '$', '41.5'] vs ['$', '41.5']
])
def test_cmrc_f1_tokenizes_between_chinese_characters_as_nltk_does(gold, prediction, f1):
    from albert_tf.training.squad_metrics import cmrc_f1

    assert cmrc_f1(gold, prediction) == pytest.approx(f1)


def test_bad_files_name_the_file_and_question(tmp_path):
    def write(data):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"data": data}), encoding="utf-8")
        return str(path)

    def paragraph(context, *qas):
        return [{"paragraphs": [{"context": context, "qas": list(qas)}]}]

    good = {"id": "q1", "question": "Who?", "answers": [{"text": "Ann", "answer_start": 0}]}
    cases = [
        (paragraph("Ann met Bob.", good, dict(good)), "question 'q1': duplicate question id"),
        (paragraph("   ", good), "question 'q1': empty context"),
        (paragraph("Ann met Bob.", {"id": "q2", "answers": []}),
         "question 'q2': missing field 'question'"),
        (paragraph("Ann met Bob.", {"question": "Who?", "answers": []}),
         "article 0 paragraph 0 question 0: missing field 'id'"),
        ([{"title": "no paragraphs"}], "article 0: missing field 'paragraphs'"),
        (paragraph("Ann met Bob.", {**good, "is_impossible": "no"}),
         "question 'q1': is_impossible must be true or false, got 'no'"),
        (paragraph("Ann met Bob.", {**good, "answers": []}),
         "question 'q1': no answer \\(and not is_impossible\\)"),
        (paragraph("Ann met Bob.", {**good, "answers": [{"text": "Ann", "answer_start": "0"}]}),
         "question 'q1': answer_start must be an integer, got '0'"),
        (paragraph("Ann met Bob.", {**good, "answers": [{"answer_start": 0}]}),
         "question 'q1': missing field 'text'"),
    ]
    for data, message in cases:
        with pytest.raises(SquadDataError, match=message):
            read_squad(write(data), is_training=True)
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    with pytest.raises(SquadDataError, match=r"broken.json: not valid JSON \(line 1"):
        read_squad(str(tmp_path / "broken.json"), True)
    # Recoverable, as the original: counted and skipped with a warning (an empty
    # question, as two of CMRC 2018's trial set, too: there is nothing to learn from it).
    beyond = {"id": "q3", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 40}]}
    moved = {"id": "q4", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 0}]}
    empty = {**good, "id": "q5", "question": " "}
    file = write(paragraph("Ann met Bob.", good, beyond, moved, empty))
    examples, stats = read_squad(file, True)
    assert [e.qas_id for e in examples] == ["q1"]
    assert (stats.answer_beyond_context, stats.answer_text_mismatch,
            stats.empty_question) == (1, 1, 1)
    # For evaluation they stay (their gold texts still score), without a position.
    examples, stats = read_squad(file, False)
    assert [(e.qas_id, e.answer_start) for e in examples] == [
        ("q1", 0), ("q3", None), ("q4", None), ("q5", 0)]
    assert stats.empty_question == 1


def test_features_pack_question_and_window_with_positions(squad_tokenizer):
    context = "The quick brown fox jumps over the lazy dog near the river bank today."
    start = context.index("lazy dog")
    example = QAExample("q", "What is lazy?", context, ["lazy dog"], start)
    features = convert_examples([example], squad_tokenizer, max_seq_length=16, doc_stride=4,
                                max_query_length=4, is_training=True)
    query = squad_tokenizer.encode("What is lazy?")[:4]
    holding = [f for f in features if not f.is_impossible]
    assert holding and len(features) > 2
    for feature in features:
        assert feature.input_ids[:len(query) + 2] == [2] + query + [3]
        assert len(feature.input_ids) == 16 and sum(feature.input_mask) <= 16
    for feature in holding:
        s, e = feature.start_position, feature.end_position
        assert context[feature.token_starts[s]:feature.token_ends[e]] == "lazy dog"
    assert group_by_example(features) == {0: list(range(len(features)))}
