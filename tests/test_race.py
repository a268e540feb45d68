"""RACE multiple choice: the reader and packing as the original run_race's, the model's
per-choice scores, conversion of RACE heads, and the chain run_race (train, evaluate,
predict, export) -> raw-text queries in a process with TensorFlow alone, on the shared
RACE-format set (built from SQuAD paragraphs; not RACE itself)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from albert_tf.config import AlbertConfig
from albert_tf.data.glue import TaskDataError
from albert_tf.data.race import choice_text, encode_race, read_race
from tests.helpers import ROOT, SHARED_DATA

RACE = os.path.join(SHARED_DATA, "race_format")
needs_race = pytest.mark.skipif(not os.path.isdir(RACE), reason="race_format is not shared")


def write_article(folder, level, name, record):
    path = folder / "train" / level / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record if isinstance(record, str) else json.dumps(record),
                    encoding="utf-8")
    return path


ARTICLE = {"id": "a1.txt", "article": "The river Loire flows through Orléans and Tours.",
           "questions": ["Which river is it?", "The _ flows through Tours."],
           "options": [["Seine", "Loire", "Rhine", "Rhône"],
                       ["Loire", "Seine", "Tiber", "Danube"]],
           "answers": ["B", "A"]}


@needs_race
def test_the_shared_set_reads_in_the_originals_order(squad_tokenizer):
    examples = read_race(RACE, "dev", tokenizer=squad_tokenizer)
    assert len(examples) == 323
    levels = [e.level for e in examples]
    assert levels == sorted(levels, key=["middle", "high"].index)  # middle first
    assert {len(e.options) for e in examples} == {4}
    assert {e.label for e in examples} == {0, 1, 2, 3}
    records = {}
    for level in ("middle", "high"):
        for name in os.listdir(os.path.join(RACE, "dev", level)):
            with open(os.path.join(RACE, "dev", level, name), encoding="utf-8") as handle:
                records[name] = json.load(handle)
    assert sum(len(r["questions"]) for r in records.values()) == 323
    first = examples[0]
    record = records[first.example_id]
    # Cleaned as the original cleans for SentencePiece (lower-cased here).
    assert first.question == squad_tokenizer.preprocess(record["questions"][0])
    assert first.label == "ABCD".index(record["answers"][0])
    middle_only = read_race(RACE, "dev", levels=("middle",))
    assert {e.level for e in middle_only} == {"middle"} and 0 < len(middle_only) < 323


def test_packing_follows_the_originals_run_race(tmp_path, squad_tokenizer):
    write_article(tmp_path, "middle", "a1.txt", ARTICLE)
    examples = read_race(str(tmp_path), "train", tokenizer=squad_tokenizer)
    assert [e.question for e in examples] == ["which river is it?", "the _ flows through tours."]
    seq, qa = 16, 6
    features = encode_race(examples, squad_tokenizer, seq, qa)
    assert features["input_ids"].shape == (2, 4, seq)
    special = squad_tokenizer.special_ids
    article = squad_tokenizer.encode("the river loire flows through orleans and tours.")
    for row, example in enumerate(examples):
        for column, option in enumerate(example.options):
            # The cloze question takes the option in place of "_" (question 2).
            text = (example.question.replace("_", option) if row else
                    f"{example.question} {option}")
            assert choice_text(example.question, option) == text
            ending = squad_tokenizer.encode(text)[-qa:]
            context = article[:seq - 3 - len(ending)]
            expected = [special.cls] + context + [special.sep] + ending + [special.sep]
            ids = features["input_ids"][row, column]
            assert ids[:len(expected)].tolist() == expected
            assert not ids[len(expected):].any()
            assert features["input_mask"][row, column].sum() == len(expected)
            segments = features["segment_ids"][row, column]
            assert segments.tolist() == ([0] * (len(context) + 2) + [1] * (len(ending) + 1)
                                         + [0] * (seq - len(expected)))
    assert features["label_ids"].tolist() == [1, 0]


@pytest.mark.parametrize("record, message", [
    ({**ARTICLE, "article": None, "id": "x"}, "'article' must be a string"),
    ({key: value for key, value in ARTICLE.items() if key != "options"},
     "missing field 'options'"),
    ({**ARTICLE, "options": [["a", "b", "c"], ["a", "b", "c", "d"]]},
     "question 1: expected 4 option strings (--num_choices), got 3"),
    ({**ARTICLE, "answers": ["B", "E"]}, "question 2: answer 'E' is not one of A, B, C, D"),
    ({**ARTICLE, "answers": ["B"]}, "'answers' must hold one letter for each of the 2"),
    ('{"id": "a1.txt", "article": ', "a1.txt:1: not a JSON object"),
])
def test_malformed_files_name_the_file_and_question(tmp_path, record, message):
    path = write_article(tmp_path, "high", "a1.txt", record)
    with pytest.raises(TaskDataError) as error:
        read_race(str(tmp_path), "train")
    assert message in str(error.value) and str(path) in str(error.value)


def test_missing_folders_and_files_are_named(tmp_path):
    with pytest.raises(TaskDataError, match="no train/ folder"):
        read_race(str(tmp_path), "train")
    (tmp_path / "RACE" / "train" / "middle").mkdir(parents=True)
    (tmp_path / "RACE" / "train" / "middle" / "notes.md").write_text("not RACE")
    with pytest.raises(TaskDataError, match=r"RACE/train: no \.txt files under middle or high"):
        read_race(str(tmp_path), "train")
    write_article(tmp_path / "RACE", "middle", "a1.txt", json.dumps(ARTICLE) + "\n"
                  + json.dumps({**ARTICLE, "id": "a2.txt"}))  # all.txt: a JSON per line
    assert [e.example_id for e in read_race(str(tmp_path), "train")] == ["a1.txt"] * 2 + [
        "a2.txt"] * 2


def test_the_model_scores_each_choice_with_the_pooled_output():
    from albert_tf.models.encoder import AlbertEncoder
    from albert_tf.models.multiple_choice import AlbertMultipleChoice
    from tests.reference import randomize

    encoder = AlbertEncoder(AlbertConfig.from_preset("tiny"))
    model = AlbertMultipleChoice(encoder, num_choices=3, dropout_rate=0.0)
    randomize(model, seed=5, scale=0.2)
    rng = np.random.default_rng(0)
    features = {"input_ids": rng.integers(4, 100, (2, 3, 7)).astype("int32"),
                "input_mask": np.ones((2, 3, 7), "int32"),
                "segment_ids": np.repeat([[[0, 0, 0, 1, 1, 1, 1]]], 3, 1).repeat(2, 0)
                .astype("int32")}
    features["input_mask"][1, 2, 5:] = 0
    logits = model(features).numpy()
    kernel, bias = (w.numpy() for w in model.head.dense.weights)
    for row in range(2):
        pooled = encoder({name: value[row] for name, value in features.items()})[
            "pooled_output"].numpy()  # [3, H]: each choice on its own
        np.testing.assert_allclose(logits[row], (pooled @ kernel + bias)[:, 0], atol=1e-5)
    assert model.get_config()["num_choices"] == 3


def test_an_original_race_head_and_hugging_faces_convert(tmp_path):
    """The original run_race's `output_weights` [1, H] / `output_bias` [1] become the
    model's head with --num_choices (checked against the source arrays and the original
    forward pass over them); Hugging Face's AlbertForMultipleChoice round-trips."""
    from albert_tf.checkpoints.conversion import ConversionError, convert_checkpoint
    from albert_tf.checkpoints.hugging_face import hf_tensors, write_hugging_face
    from albert_tf.tasks.multiple_choice.serving import load_multiple_choice_model
    from tests.test_conversion import (a_batch, make_config, original_arrays, reference,
                                       write_tf1_checkpoint)

    config = make_config(1, 1)
    arrays = {name: value for name, value in original_arrays(config, seed=3).items()
              if not name.startswith("cls/")}  # run_race keeps no pretraining heads
    rng = np.random.default_rng(3)
    arrays["output_weights"] = rng.normal(size=(1, config.hidden_size)).astype("float32")
    arrays["output_bias"] = rng.normal(size=(1,)).astype("float32")
    source = tmp_path / "original"
    source.mkdir()
    config.to_json_file(str(source / "albert_config.json"))
    prefix = write_tf1_checkpoint(str(source / "model.ckpt-12000"), arrays)
    report = convert_checkpoint(prefix, str(tmp_path / "race"), num_choices=4)
    assert "AlbertMultipleChoice: encoder and multiple-choice head (4 choices)" in report.wrote
    assert report.unused == [] and report.missing == []
    model = load_multiple_choice_model(config, str(tmp_path / "race"), 4)
    kernel, bias = (w.numpy() for w in model.head.dense.weights)
    np.testing.assert_array_equal(kernel.T, arrays["output_weights"])
    np.testing.assert_array_equal(bias, arrays["output_bias"])
    # Two questions of 4 choices = the 8 rows the original reshapes them into.
    batch = {name: np.concatenate([value] * 4) for name, value in a_batch(config).items()}
    batch = {name: value[:8] for name, value in batch.items()}
    heads = {name: value for name, value in original_arrays(config, seed=3).items()
             if name.startswith("cls/")}  # the reference also computes (unused) heads
    pooled = reference({**arrays, **heads}, config, batch)["pooled_output"]  # [8, H]
    expected = (pooled @ arrays["output_weights"].T + arrays["output_bias"]).reshape(2, 4)
    features = {name: batch[name].reshape(2, 4, -1)
                for name in ("input_ids", "input_mask", "segment_ids")}
    np.testing.assert_allclose(model(features).numpy(), expected, atol=1e-4)

    # Without --num_choices the same tensors are a one-output regressor's head; a
    # source without a fine-tuned head is refused.
    report = convert_checkpoint(prefix, str(tmp_path / "as_regressor"))
    assert "classifier head (1 outputs)" in report.wrote
    encoder_only = tmp_path / "encoder_only"
    encoder_only.mkdir()
    config.to_json_file(str(encoder_only / "albert_config.json"))
    write_tf1_checkpoint(str(encoder_only / "model.ckpt-1"),
                         {k: v for k, v in arrays.items() if not k.startswith("output_")})
    with pytest.raises(ConversionError, match="--num_choices=4: the source holds no"):
        convert_checkpoint(str(encoder_only / "model.ckpt-1"), str(tmp_path / "x"),
                           num_choices=4)

    # Hugging Face: AlbertForMultipleChoice out and back.
    write_hugging_face(model, str(tmp_path / "hf"))
    saved = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert saved["architectures"] == ["AlbertForMultipleChoice"]
    tensors = hf_tensors(model)
    np.testing.assert_array_equal(tensors["classifier.weight"], arrays["output_weights"])
    convert_checkpoint(str(tmp_path / "hf"), str(tmp_path / "back"), num_choices=4)
    back = load_multiple_choice_model(config, str(tmp_path / "back"), 4)
    np.testing.assert_array_equal(back(features).numpy(), model(features).numpy())


SERVE_SCRIPT = """
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401 (the ops the graph needs)
questions = json.load(sys.stdin)
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
out = []
for i in range(0, len(questions), 32):
    batch = questions[i:i + 32]
    result = serve(article=tf.constant([q["article"] for q in batch]),
                   question=tf.constant([q["question"] for q in batch]),
                   options=tf.constant([q["options"] for q in batch]))
    for j in range(len(batch)):
        out.append({"answer": result["answer"][j].numpy().decode(),
                    "probabilities": result["probabilities"][j].numpy().tolist()})
assert not [name for name in sys.modules if name.startswith("albert_tf")]
print(json.dumps(out))
"""


def raw_questions(folder):
    """The questions of a RACE folder as in its files, in the original's order."""
    questions = []
    for level in ("middle", "high"):
        for name in sorted(os.listdir(os.path.join(folder, level))):
            with open(os.path.join(folder, level, name), encoding="utf-8") as handle:
                record = json.load(handle)
            questions += [{"article": record["article"], "question": question,
                           "options": options, "label": "ABCD".index(answer), "level": level}
                          for question, options, answer in zip(
                              record["questions"], record["options"], record["answers"])]
    return questions


@needs_race
def test_run_race_trains_evaluates_predicts_and_the_export_answers_alike(tmp_path,
                                                                        squad_tokenizer):
    data = tmp_path / "data"
    data.mkdir()
    for split, shared in (("train", "train"), ("dev", "dev"), ("test", "dev")):
        (data / split).symlink_to(os.path.join(RACE, shared))
    config = AlbertConfig.from_preset("tiny", vocab_size=squad_tokenizer.vocab_size,
                                      max_position_embeddings=64)
    config.to_json_file(str(tmp_path / "config.json"))
    run = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_race.py"), f"--data_dir={data}",
         f"--output_dir={tmp_path / 'run'}", f"--albert_config_file={tmp_path / 'config.json'}",
         f"--spm_model_file={squad_tokenizer.spm_model_file}", "--max_seq_length=64",
         "--max_qa_length=24", "--train_batch_size=8", "--eval_batch_size=64",
         "--learning_rate=5e-4", "--train_step=40", "--warmup_step=4",
         "--save_checkpoints_steps=40", "--iterations_per_loop=20", "--log_steps=20",
         "--do_predict", "--precision=float32", "--strategy=one_device",
         f"--export_dir={tmp_path / 'exports'}"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert run.returncode == 0, run.stderr[-3000:]
    best = json.loads((tmp_path / "run" / "eval_results.json").read_text())["best"]
    predictions = [json.loads(line) for line in
                   (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    questions = raw_questions(os.path.join(RACE, "dev"))
    assert len(predictions) == len(questions) == best["examples"] == 323
    # The evaluation's numbers are those of the predictions (one evaluation: the best).
    correct = np.array([p["answer"] == "ABCD"[q["label"]]
                        for p, q in zip(predictions, questions)])
    levels = np.array([q["level"] for q in questions])
    assert best["accuracy"] == pytest.approx(correct.mean())
    assert best["accuracy_high"] == pytest.approx(correct[levels == "high"].mean())
    assert best["examples_middle"] == (levels == "middle").sum()
    assert [p["level"] for p in predictions] == levels.tolist()
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in predictions)

    # The raw-text export, in a process that imports TensorFlow alone.
    export = os.path.join(tmp_path / "exports", "race", "1")
    served = subprocess.run([sys.executable, "-c", SERVE_SCRIPT, export],
                            input=json.dumps(questions), capture_output=True, text=True,
                            timeout=600, cwd="/", env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert served.returncode == 0, served.stderr[-3000:]
    served = json.loads(served.stdout.strip().splitlines()[-1])
    deviations = np.array([np.abs(np.subtract(s["probabilities"], p["probabilities"])).max()
                           for s, p in zip(served, predictions)])
    print(f"largest served probability deviation: {deviations.max():.2e}")
    # tensorflow-text's SentencePiece op breaks a few ties between equally likely
    # segmentations otherwise than the Python library (tests/test_question_answering.py).
    assert (deviations < 1e-5).mean() >= 0.99
    assert all(s["answer"] == p["answer"] for s, p, d in zip(served, predictions, deviations)
               if d < 1e-5)
