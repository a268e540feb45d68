"""CMRC 2018 (Chinese, SQuAD-style) end to end on the WordPiece path: a tiny model trained
from scratch on the trial set lowers its span loss, answers every question of a dev slice
with a substring of its context, is scored by CMRC 2018's character-level metric, and its
raw-text export answers exactly as run_squad did."""

import json
import math
import os

import pytest

from albert_tf.config import AlbertConfig
from albert_tf.data.squad import read_squad
from albert_tf.tasks.question_answering.task import QASettings, run
from albert_tf.training.distribution import create_strategy
from albert_tf.training.squad_metrics import evaluate_cmrc
from tests.helpers import SHARED_DATA
from tests.test_question_answering import SEQ, serve_run

CMRC = os.path.join(SHARED_DATA, "cmrc2018")
VOCAB = os.path.join(SHARED_DATA, "chinese", "vocab.txt")
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(CMRC, "cmrc2018_dev.json"))
                                or not os.path.exists(VOCAB),
                                reason="CMRC 2018 or the Chinese vocabulary is not shared")


def test_cmrc2018_trains_predicts_scores_and_serves(tmp_path):
    from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer

    with open(os.path.join(CMRC, "cmrc2018_dev.json"), encoding="utf-8") as handle:
        dev = json.load(handle)
    dev["data"] = dev["data"][:30]  # 30 documents, about 110 questions
    dev_file = tmp_path / "dev_slice.json"
    dev_file.write_text(json.dumps(dev, ensure_ascii=False), encoding="utf-8")
    tokenizer = WordPieceTokenizer(VOCAB)
    config = AlbertConfig.from_preset("tiny", vocab_size=tokenizer.vocab_size)
    settings = QASettings(
        output_dir=str(tmp_path / "run"), albert_config=config,
        train_file=os.path.join(CMRC, "cmrc2018_trial.json"), predict_file=str(dev_file),
        vocab_file=VOCAB, max_seq_length=SEQ, doc_stride=64, max_query_length=24,
        do_train=True, do_predict=True, train_batch_size=16, predict_batch_size=64,
        learning_rate=2e-3, num_train_steps=50, num_warmup_steps=5, save_checkpoints_steps=50,
        iterations_per_loop=25, log_steps=25, seed=1, evaluation="cmrc2018")
    results = run(settings, create_strategy("one_device"))
    assert results["train"]["loss"] < 0.85 * math.log(SEQ)  # log(SEQ): uniform positions

    examples, _ = read_squad(str(dev_file), is_training=False)
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text("utf-8"))
    assert set(predictions) == {e.qas_id for e in examples} and len(examples) > 100
    contexts = {e.qas_id: e.context for e in examples}
    assert all(text in contexts[qas_id] for qas_id, text in predictions.items())
    scores = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    golds = {e.qas_id: e.answers for e in examples}
    expected = evaluate_cmrc(golds, predictions)
    assert {name: scores[name] for name in expected} == expected
    assert 0.0 <= expected["exact_match"] <= expected["f1"] <= 100.0

    served = serve_run(tmp_path / "run", tokenizer, examples, 0.0, answerability=False,
                       start_n_top=5, end_n_top=5)
    for example in examples:
        answer = served[example.qas_id]
        assert answer["answer"] == predictions[example.qas_id], example.qas_id
        if answer["answer"]:
            assert example.context[answer["answer_start"]:answer["answer_end"]] == (
                answer["answer"])
