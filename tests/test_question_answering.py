"""Question answering end to end on the shared SQuAD v1.1 and v2.0 subsets: a tiny model
trained from scratch lowers its span loss and answers every dev question (answers are
substrings of their contexts), scored by the official metric; the raw-text export answers
as the run did (run_squad.py's own predict-only path: test_qa_conversion.py)."""

import json
import logging
import math
import os
import re
import subprocess
import sys

import pytest

from albert_tf.config import AlbertConfig
from albert_tf.data.squad import read_squad
from albert_tf.tasks.question_answering.task import QASettings, run, training_steps
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
    values = dict(
        output_dir=str(output_dir), albert_config=config, train_file=train_file,
        predict_file=predict_file, spm_model_file=tokenizer.spm_model_file,
        max_seq_length=SEQ, doc_stride=64, max_query_length=24, do_train=True,
        do_predict=True, train_batch_size=16, predict_batch_size=64, learning_rate=2e-3,
        num_train_steps=60, num_warmup_steps=6, save_checkpoints_steps=60,
        iterations_per_loop=20, log_steps=20, seed=1)
    return run(QASettings(**dict(values, **overrides)), create_strategy("one_device"))


def test_a_tiny_model_learns_spans_and_answers_every_question(squad_tokenizer, tmp_path,
                                                             caplog):
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

    # The raw-text export answers as run_squad did, in a process with TensorFlow alone.
    export = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export_model.py"),
         f"--init_checkpoint={tmp_path / 'run'}", f"--export_dir={tmp_path / 'exports'}",
         "--model_name=squad"], capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert export.returncode == 0, export.stderr[-3000:]
    served = serve_in_fresh_process(export.stdout.strip().splitlines()[-1], examples)
    assert_serving_matches(served, predictions, examples, squad_tokenizer)
    module = qa_module(tmp_path / "run", squad_tokenizer, 0.0, answerability=False,
                       start_n_top=5, end_n_top=5, sub_batch_size=8)
    differ = assert_sub_batches_agree(serve_module(module, examples), served,
                                      explained_by=(module, examples))
    assert len(differ) <= 0.01 * len(examples)

    # Under mixed_bfloat16 (what --precision=auto picks on a CPU with bfloat16
    # instructions) prediction still computes in float32: the same answers as the float32
    # prediction above, so the export's. Before: 684 of 810 equal.
    float32_predictions = (tmp_path / "run" / "predictions.json").read_bytes()
    with caplog.at_level(logging.INFO, logger="absl"):
        train_and_predict(squad_tokenizer, tmp_path / "run", TRAIN, DEV, do_train=False,
                          precision="mixed_bfloat16")
    assert (tmp_path / "run" / "predictions.json").read_bytes() == float32_predictions
    # No silent pause before the answers (before: 20-30 s without a line).
    said = [message for message in caplog.messages if message.startswith("prediction: ")]
    assert said[0] == f"prediction: reading and windowing {DEV}"
    assert re.fullmatch(r"prediction: 810 questions in \d+ windows, weights of step 60",
                        said[1]), said


SERVE_SCRIPT = """
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401 (the ops the graph needs)
pairs = json.load(sys.stdin)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = {}
for i in range(0, len(pairs), 64):
    batch = pairs[i:i + 64]
    result = serve(question=tf.constant([q for _, q, _ in batch]),
                   context=tf.constant([c for _, _, c in batch]))
    for j, (qas_id, _, _) in enumerate(batch):
        values = {name: value[j].numpy() for name, value in result.items()}
        out[qas_id] = {name: value.decode("utf-8") if isinstance(value, bytes)
                       else value.item() for name, value in values.items()}
assert not [name for name in sys.modules if name.startswith(("albert_tf", "keras_hub"))]
print(json.dumps(out))
"""


def serve_in_fresh_process(saved_model, examples):
    """qas_id -> the export's outputs for the examples' raw question and context."""
    pairs = [(e.qas_id, e.question, e.context) for e in examples]
    result = subprocess.run([sys.executable, "-c", SERVE_SCRIPT, saved_model],
                            input=json.dumps(pairs), capture_output=True, text=True,
                            timeout=600, cwd="/", env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_serving_matches(served, predictions, examples, tokenizer):
    """Every served answer is run_squad's, but where tensorflow-text's SentencePiece op
    cuts the text otherwise than the Python library (it breaks some ties between equally
    likely segmentations the other way): there the two models saw different tokens."""
    differ = []
    for example in examples:
        answer = served[example.qas_id]
        if answer["answer"] == predictions[example.qas_id]:
            if answer["answer"]:
                assert example.context[answer["answer_start"]:answer["answer_end"]] == (
                    answer["answer"])
            continue
        graph = [ids.numpy().tolist() for ids in tokenizer.encode_tf(
            [example.question, example.context])]
        assert graph != [tokenizer.encode(example.question), tokenizer.encode(
            example.context)], (example.qas_id, answer, predictions[example.qas_id])
        differ.append(example.qas_id)
    print(f"served answers differing from run_squad's: {len(differ)} of {len(examples)}")
    assert len(differ) <= 0.01 * len(examples), differ


def assert_sub_batches_agree(by_length, served, explained_by=None):
    """The windows run in sub-batches by length (--qa_sub_batches) give the answers of
    windows padded to max_seq_length (scores and null odds to float32 noise), but, for a
    span head (`explained_by`: its module and the examples), where a padding position
    was among a window's n-best starts or ends at full width. Returns the questions
    answered otherwise."""
    import numpy as np
    import tensorflow as tf

    differ = sorted(qas_id for qas_id, answer in served.items()
                    if by_length[qas_id]["answer"] != answer["answer"])
    print(f"sub-batched answers differing: {len(differ)} of {len(served)}")
    assert explained_by is not None or not differ, differ[:5]
    for qas_id, answer in served.items():
        if qas_id in differ:
            continue
        assert by_length[qas_id]["answer_start"] == answer["answer_start"]
        for name in ("score", "null_odds"):
            if name in answer and abs(answer[name]) < 1e30:
                assert abs(by_length[qas_id][name] - answer[name]) < 1e-3, (qas_id, name)
    module, examples = explained_by or (None, ())
    examples = {e.qas_id: e for e in examples}
    for qas_id in differ:
        windows = module.windows(tf.constant([examples[qas_id].question]),
                                 tf.constant([examples[qas_id].context]))
        outputs = module.model({name: windows[name] for name in (
            "input_ids", "input_mask", "segment_ids")}, training=False)
        padding = windows["input_mask"].numpy() == 0  # [w, seq]
        top = [np.argsort(-outputs[name].numpy(), axis=1, kind="stable")[
            :, :module.n_best_size] for name in ("start_logits", "end_logits")]
        assert any(np.take_along_axis(padding, best, 1).any() for best in top), qas_id
    return differ


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
                                                                 head, caplog):
    caplog.set_level(logging.INFO, logger="absl")
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
    # The log says why answers are "": judged unanswerable (the null answer won), or no
    # valid span at all (before: every "" was reported as "got no valid span").
    nbest = json.loads((tmp_path / "run" / "nbest_predictions.json").read_text())
    no_span = [qas_id for qas_id, candidates in nbest.items() if not candidates]
    judged = sum(1 for qas_id, text in predictions.items() if not text) - len(no_span)
    assert judged > 0
    assert f"{judged} of 706 question(s) judged unanswerable" in caplog.text
    assert ("got no valid span" in caplog.text) == bool(no_span)

    # The serving graph: the same answers, null odds and has-answer decisions.
    served = serve_run(tmp_path / "run", squad_tokenizer, examples, threshold,
                       answerability=head == "answerability", version_2=True, start_n_top=3,
                       end_n_top=3)
    assert_serving_matches(served, predictions, examples, squad_tokenizer)
    # Logits agree to float32 noise (the graph batches windows otherwise); has_answer
    # may differ only where the odds lie within that noise of the threshold.
    deviation = max(abs(served[qas_id]["null_odds"] - odds) for qas_id, odds in null_odds.items())
    print(f"largest null-odds deviation: {deviation:.2e}")
    assert deviation < 1e-3
    assert all(served[qas_id]["has_answer"] == (odds < threshold)
               for qas_id, odds in null_odds.items() if abs(odds - threshold) > 1e-3)
    if head == "answerability":  # the span head's sub-batches: the v1.1 test
        assert_sub_batches_agree(serve_run(
            tmp_path / "run", squad_tokenizer, examples, threshold, answerability=True,
            version_2=True, start_n_top=3, end_n_top=3, sub_batch_size=8), served)


def serve_run(run_dir, tokenizer, examples, threshold, answerability, **settings):
    """qas_id -> the QA serving module's outputs, built in this process from a run."""
    return serve_module(qa_module(run_dir, tokenizer, threshold, answerability, **settings),
                        examples)


def qa_module(run_dir, tokenizer, threshold, answerability, **settings):
    """The QA serving module of a run, built in this process."""
    from albert_tf.export.question_answering import QAServingModule, load_qa_model

    # A tokenizer of its own: training seeded TensorFlow, which drops the graph ops that
    # the shared tokenizer made before (AlbertTokenizer.tf_tokenizer).
    tokenizer = type(tokenizer)(tokenizer.source_file, tokenizer.lower_case)
    config = AlbertConfig.from_json_file(str(run_dir / "albert_config.json"))
    model = load_qa_model(config, str(run_dir), answerability, settings.pop("start_n_top"),
                          settings.pop("end_n_top"))
    return QAServingModule(model, tokenizer, SEQ, doc_stride=64, max_query_length=24,
                           null_odds_threshold=threshold, **settings)


def serve_module(module, examples):
    """qas_id -> the module's `serving_default` outputs."""
    import tensorflow as tf

    serve = tf.function(module.serve_text)
    served = {}
    for i in range(0, len(examples), 128):
        batch = examples[i:i + 128]
        result = serve(tf.constant([e.question for e in batch]),
                       tf.constant([e.context for e in batch]))
        for j, example in enumerate(batch):
            served[example.qas_id] = {
                name: value[j].numpy().decode("utf-8") if value.dtype == tf.string
                else value[j].numpy().item() for name, value in result.items()}
    return served


def test_the_qa_export_refuses_settings_it_cannot_serve(squad_tokenizer):
    from albert_tf.errors import AlbertTfError
    from albert_tf.export.question_answering import QAServingModule
    from albert_tf.export.saved_model import ExportError
    from albert_tf.models.encoder import AlbertEncoder
    from albert_tf.models.question_answering import AlbertQuestionAnswering

    config = AlbertConfig.from_preset("tiny", vocab_size=squad_tokenizer.vocab_size,
                                      max_position_embeddings=SEQ)
    model = AlbertQuestionAnswering(config)
    for overrides, message in [
            (dict(max_seq_length=SEQ + 1), "--max_seq_length=129 must be between 5"),
            (dict(doc_stride=0), "--doc_stride must be at least 1, got 0"),
            (dict(max_query_length=SEQ - 3), "--max_query_length=125 leaves no room"),
            (dict(n_best_size=0), "--n_best_size must be at least 1")]:
        with pytest.raises(AlbertTfError, match=message):
            QAServingModule(model, squad_tokenizer, **{"max_seq_length": SEQ, **overrides})
    with pytest.raises(ExportError, match="can export an AlbertQuestionAnswering or an "
                                          "AlbertAnswerabilityQA, not AlbertEncoder"):
        QAServingModule(AlbertEncoder(config), squad_tokenizer, SEQ)
    small = AlbertQuestionAnswering(AlbertConfig.from_preset("tiny", vocab_size=100))
    with pytest.raises(AlbertTfError, match="has 1000 pieces but the model's vocab_size is 100"):
        QAServingModule(small, squad_tokenizer, 64, max_query_length=24)
