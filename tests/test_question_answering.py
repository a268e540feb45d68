"""Question answering end to end on the shared SQuAD v1.1 subsets: a tiny model trained from
scratch lowers its span loss and answers every dev question (answers are substrings of
their contexts), scored by the official metric; run_squad.py predicts from the run."""

import json
import math
import os
import subprocess
import sys

import pytest

from albert_tf.config import AlbertConfig
from albert_tf.data.squad import read_squad
from albert_tf.tasks.question_answering import QASettings, run, training_steps
from albert_tf.training.distribution import create_strategy
from tests.helpers import ROOT, SHARED_DATA

SQUAD = os.path.join(SHARED_DATA, "squad")
TRAIN, DEV = os.path.join(SQUAD, "train-v1.1.json"), os.path.join(SQUAD, "dev-v1.1.json")
pytestmark = pytest.mark.skipif(not os.path.exists(TRAIN), reason="SQuAD is not shared")
SEQ = 128


def test_the_originals_step_count():
    assert training_steps(269, 32, 3.0, 0.1) == (25, 2)


def train_and_predict(tokenizer, output_dir, train_file, predict_file, **overrides):
    """A tiny model trained from scratch for 60 steps, then predicting `predict_file`."""
    config = AlbertConfig.from_preset("tiny", vocab_size=tokenizer.vocab_size,
                                      max_position_embeddings=SEQ)
    settings = QASettings(
        output_dir=str(output_dir), albert_config=config, train_file=train_file,
        predict_file=predict_file, spm_model_file=tokenizer.spm_model_file,
        max_seq_length=SEQ, doc_stride=64, max_query_length=24, do_train=True,
        do_predict=True, train_batch_size=16, predict_batch_size=64, learning_rate=2e-3,
        num_train_steps=60, num_warmup_steps=6, save_checkpoints_steps=60,
        iterations_per_loop=20, log_steps=20, seed=1, **overrides)
    return run(settings, create_strategy("one_device"))


def test_a_tiny_model_learns_spans_and_answers_every_question(squad_tokenizer, tmp_path):
    results = train_and_predict(squad_tokenizer, tmp_path / "run", TRAIN, DEV)
    assert results["train"]["loss"] < 0.8 * math.log(SEQ)  # log(SEQ): uniform positions
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    examples, _ = read_squad(DEV, is_training=False)
    assert set(predictions) == {e.qas_id for e in examples}  # every question answered
    contexts = {e.qas_id: e.context for e in examples}
    assert all(text in contexts[qas_id] for qas_id, text in predictions.items())
    nbest = json.loads((tmp_path / "run" / "nbest_predictions.json").read_text())
    for qas_id, candidates in list(nbest.items())[:50]:
        assert candidates[0]["text"] == predictions[qas_id]
        assert abs(sum(c["probability"] for c in candidates) - 1.0) < 1e-4
        assert all(contexts[qas_id][c["start"]:c["end"]] == c["text"] for c in candidates)
    scores = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert scores["total"] == 810 and 0.0 <= scores["exact_match"] <= scores["f1"] <= 100.0
    assert scores == results["eval"]

    # The script predicts from the run folder (no training), with the original's flags.
    command = [sys.executable, os.path.join(ROOT, "run_squad.py"),
               f"--output_dir={tmp_path / 'run'}", f"--predict_file={DEV}",
               f"--spm_model_file={squad_tokenizer.spm_model_file}",
               f"--albert_config_file={tmp_path / 'run' / 'albert_config.json'}",
               f"--max_seq_length={SEQ}", "--doc_stride=64", "--max_query_length=24",
               "--do_predict", "--predict_batch_size=64", "--strategy=one_device"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    again = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert again == predictions


def test_predicting_without_weights_or_files_is_refused(squad_tokenizer, tmp_path):
    config = AlbertConfig.from_preset("tiny", vocab_size=squad_tokenizer.vocab_size)
    base = dict(output_dir=str(tmp_path / "run"), albert_config=config,
                spm_model_file=squad_tokenizer.spm_model_file, max_seq_length=SEQ)
    for overrides, message in [
            (dict(do_predict=True, predict_file=DEV), "holds no fine-tuned checkpoint"),
            (dict(do_train=True), "--train_file is required with --do_train"),
            (dict(), "at least one of --do_train and --do_predict"),
            (dict(do_predict=True, predict_file=DEV, max_query_length=126),
             "--max_query_length=126 leaves no room")]:
        with pytest.raises(Exception, match=message):
            run(QASettings(**base, **overrides), create_strategy("one_device"))
    assert not (tmp_path / "run").exists()


TRAIN_V2, DEV_V2 = os.path.join(SQUAD, "train-v2.0.json"), os.path.join(SQUAD, "dev-v2.0.json")


@pytest.mark.parametrize("head", ["answerability", "null_score"])
def test_squad_v2_learns_and_writes_null_odds_for_every_question(squad_tokenizer, tmp_path,
                                                                 head):
    results = train_and_predict(squad_tokenizer, tmp_path / "run", TRAIN_V2, DEV_V2,
                                version_2_with_negative=True, v2_head=head, start_n_top=3,
                                end_n_top=3)
    # At the start: log(SEQ) for each end (in the mean), plus log(2) / 2 for answerability.
    assert results["train"]["loss"] < 0.8 * (math.log(SEQ) + math.log(2) / 2)
    examples, _ = read_squad(DEV_V2, is_training=False)
    ids = {e.qas_id for e in examples}
    predictions = json.loads((tmp_path / "run" / "predictions.json").read_text())
    null_odds = json.loads((tmp_path / "run" / "null_odds.json").read_text())
    assert set(predictions) == set(null_odds) == ids and len(ids) == 706
    scores = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert scores["total"] == 706 and scores["NoAns_total"] == 320
    # The chosen threshold is the search's, and predictions abstain exactly above it.
    threshold = scores["null_score_diff_threshold"]
    assert threshold == scores["best_f1_thresh"]
    assert all((text == "") == (null_odds[qas_id] >= threshold)
               for qas_id, text in predictions.items() if text or null_odds[qas_id] >= threshold)
    contexts = {e.qas_id: e.context for e in examples}
    assert all(text in contexts[qas_id] for qas_id, text in predictions.items())
