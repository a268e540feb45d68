"""A shortened `make demo` end to end (tiny model, few steps, the bundled corpus): every
artifact exists and is valid, the report's numbers are the logged ones, the export
answers raw-text queries, and a re-run reuses every stage."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHORT_DEMO = ["--model_size=tiny", "--vocab_size=1000", "--max_seq_length=32",
              "--dupe_factor=1", "--pretrain_steps=24", "--pretrain_batch_size=8",
              "--finetune_steps=20", "--finetune_batch_size=8", "--eval_every=10",
              "--query_examples=5"]


def run_demo(run_dir, *extra):
    return subprocess.run([sys.executable, os.path.join(ROOT, "run_demo.py"),
                           f"--run_dir={run_dir}", *SHORT_DEMO, *extra],
                          capture_output=True, text=True, timeout=900)


def event_scalars(logdir):
    """The event files read with TensorBoard's own reader (not the report's code)."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return {tag: {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)}
            for tag in accumulator.Tags()["tensors"]}


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    result = run_demo(run_dir)
    assert result.returncode == 0, result.stderr[-4000:]
    return run_dir, result


def test_every_stage_finishes_with_progress_output(demo):
    run_dir, result = demo
    records = json.loads((run_dir / "stages.json").read_text())
    assert list(records) == ["corpus", "sentencepiece", "pretraining_data", "pretrain", "task",
                             "finetune", "export", "query", "transitions", "report"]
    assert all(r["finished"] and not r["reused"] for r in records.values())
    for number, stage in enumerate(records, start=1):
        assert f"[{number}/10] {stage}: done in" in result.stderr
    assert "[pretrain] " in result.stderr and "seq/s" in result.stderr  # the loop's progress
    for stage in ("sentencepiece", "pretraining_data", "pretrain", "finetune", "export",
                  "query", "transitions"):
        assert (run_dir / "logs" / f"{stage}.log").stat().st_size > 0
    assert result.stdout.strip() == str(run_dir / "report.md")


def test_report_numbers_are_the_logged_ones(demo):
    run_dir, _ = demo
    report = json.loads((run_dir / "report.json").read_text())
    markdown = (run_dir / "report.md").read_text()

    logged = event_scalars(str(run_dir / "pretrain" / "train"))
    last_step = max(logged["loss"])
    assert last_step == 24 == report["pretraining"]["final_step"]
    for tag in ("mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
        assert report["pretraining"]["final_train"][tag] == pytest.approx(
            logged[tag][last_step], rel=1e-6)
        heldout = json.loads((run_dir / "pretrain" / "eval_results_heldout.json")
                             .read_text())[tag]
        assert f"| {tag} | {logged[tag][last_step]:.4f} | {heldout:.4f} |" in markdown

    evaluations = json.loads((run_dir / "finetune" / "eval_results.json").read_text())
    assert [e["step"] for e in evaluations["evaluations"]] == [10, 20]
    best = max(evaluations["evaluations"], key=lambda e: e["accuracy"])
    assert f"| best dev (step {best['step']}) | {best['accuracy']:.4f} |" in markdown

    test = {row["index"]: row["label"] for row in read_tsv(run_dir / "task" / "test.tsv")}
    predictions = read_tsv(run_dir / "finetune" / "test_predictions.tsv")
    assert len(predictions) == len(test)
    accuracy = np.mean([row["prediction"] == test[row["index"]] for row in predictions])
    assert report["finetuning"]["test_accuracy"] == pytest.approx(accuracy)
    assert f"{accuracy:.4f} |" in markdown

    dev_labels = [row["label"] for row in read_tsv(run_dir / "task" / "dev.tsv")]
    majority = max(dev_labels.count(label) for label in set(dev_labels)) / len(dev_labels)
    assert report["finetuning"]["dev_majority_accuracy"] == pytest.approx(majority)

    for stage in ("pretrain", "finetune"):
        assert f"| {stage} | {report['stages'][stage]['seconds']:.1f} | ran |" in markdown
    assert "python run_pretraining.py --input_file=" in markdown

    transitions = json.loads((run_dir / "transitions" / "layer_transitions.json").read_text())
    layers = transitions["models"]["pretrained"]["layers"]
    assert len(layers) == 2 == report["model"]["config"]["num_hidden_layers"]
    for row in layers:
        assert (f"| {row['layer']} | {row['l2_distance']:.4f} | "
                f"{row['cosine_similarity']:.4f} |") in markdown


def test_plots_are_real_pngs(demo):
    run_dir, _ = demo
    markdown = (run_dir / "report.md").read_text()
    for name in ("pretraining.png", "finetuning.png", "layer_transitions.png"):
        data = (run_dir / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        image = tf.io.decode_png(data).numpy()
        assert image.shape[0] >= 300 and image.shape[1] >= 800 and image.std() > 10
        assert f"(plots/{name})" in markdown


def test_export_answers_raw_text_without_albert_tf(demo):
    run_dir, _ = demo
    version = run_dir / "export" / "continuation" / "1"
    assert (version / "saved_model.pb").exists()
    assert (version / "assets.extra" / "tf_serving_warmup_requests").exists()
    query = json.loads((run_dir / "query.json").read_text())
    assert query["albert_tf_imported"] is False
    test = read_tsv(run_dir / "task" / "test.tsv")[:5]
    predictions = read_tsv(run_dir / "finetune" / "test_predictions.tsv")[:5]
    assert [a["text_a"] for a in query["answers"]] == [row["sentence_a"] for row in test]
    for answer, prediction in zip(query["answers"], predictions):
        assert answer["label"] == prediction["prediction"]
        assert sum(answer["probabilities"]) == pytest.approx(1.0, abs=1e-5)


def test_rerun_reuses_every_stage(demo):
    run_dir, _ = demo
    first = (run_dir / "report.json").read_text()
    result = run_demo(run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.loads((run_dir / "stages.json").read_text())
    assert all(records[s]["reused"] for s in records if s != "report")
    assert "[4/10] pretrain: reused" in result.stderr
    report = json.loads((run_dir / "report.json").read_text())
    assert report["finetuning"] == json.loads(first)["finetuning"]
    assert all(stage["reused"] for stage in report["stages"].values())


def test_a_corpus_too_small_for_the_task_fails_before_training(tmp_path):
    corpus = tmp_path / "mine.txt"
    corpus.write_text("\n\n".join(f"Sentence one of {d}.\nSentence two of {d}."
                                  for d in range(5)))
    result = run_demo(tmp_path / "run", f"--corpus={corpus}")
    assert result.returncode != 0
    assert f"run_demo: {corpus}: 5 documents leave" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "pretrain").exists()


def test_query_script_takes_texts_from_flags(demo):
    run_dir, _ = demo
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "query_saved_model.py"),
         f"--model_dir={run_dir / 'export' / 'continuation' / '1'}",
         "--text_a=The loop ends.", "--text_b=It starts again.",
         "--text_a=Ünïcode text, déjà vu.", "--text_b="],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["text_a"] for a in answers] == ["The loop ends.", "Ünïcode text, déjà vu."]
    assert all(a["label"] in ("unrelated", "continues") and len(a["logits"]) == 2
               for a in answers)


def test_query_script_names_the_signatures_it_has(demo):
    run_dir, _ = demo
    model_dir = run_dir / "export" / "continuation" / "1"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "query_saved_model.py"), f"--model_dir={model_dir}",
         "--signature=predict", "--text_a=x", "--text_b=y"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert (f"query_saved_model: {model_dir} has no signature 'predict'; it has "
            "['serve_ids', 'serving_default']") in result.stderr


@pytest.mark.parametrize("arguments, message", [
    ([], "--model_dir {model_dir}: no saved_model.pb there"),
    (["--input_tsv={tsv}", "--text_b_column=second"], "{tsv}:1: no column(s) ['sentence', "
                                                      "'second'] in the header ['a', 'b']"),
    (["--text_a=x", "--text_a=y", "--text_b=z"], "2 --text_a but 1 --text_b"),
    ([], "give --text_a (repeatable) or --input_tsv"),
])
def test_query_script_errors(tmp_path, arguments, message):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    if "no saved_model.pb" not in message:
        (model_dir / "saved_model.pb").write_bytes(b"")  # the errors come before loading
    tsv = tmp_path / "texts.tsv"
    tsv.write_text("a\tb\nx\ty\n")
    values = {"model_dir": model_dir, "tsv": tsv}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "query_saved_model.py"), f"--model_dir={model_dir}",
         *[a.format(**values) for a in arguments]], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "query_saved_model: " + message.format(**values) in result.stderr
    assert "Traceback" not in result.stderr
