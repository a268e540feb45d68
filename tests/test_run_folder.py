"""Run folders as the hand-off: the task registry, the typed record read back, the
tokenizer copy (only ever read from inside the folder), folders of earlier versions, and
the resume rule (what changed is listed; --new_phase records it). No model is trained
here: records are written as a run writes them and checkpoints are stand-ins."""

import json
import logging
import os
import shutil

import pytest
import tensorflow as tf

from albert_tf.checkpoints.layout import RunFolderError, RunLayout
from albert_tf.config import AlbertConfig
from albert_tf.data.glue import custom_task, get_task
from albert_tf.data.wordpiece_tokenizer import WordPieceTokenizer
from albert_tf.tasks.classification.settings import ClassifierSettings
from albert_tf.tasks.classification.task import ClassificationTask
from albert_tf.tasks.pretraining.settings import PretrainingSettings
from albert_tf.tasks.question_answering.settings import QASettings
from albert_tf.tasks.question_answering.task import QuestionAnsweringTask
from albert_tf.tasks.question_answering.task import run as run_squad
from albert_tf.tasks.registry import (CLASSIFICATION, ENTRIES, UnknownTaskError, entry,
                                      entry_for_settings)
from albert_tf.tasks.run_folder import find_run, load_run, run_config
from albert_tf.training.distribution import create_strategy
from albert_tf.training.run_record import (ResumeError, check_same_data, check_same_model,
                                           write_run_record)
from albert_tf.training.settings import SettingsError

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat",
         "dog", "##s", "a", "b", "c", "?", "."]


@pytest.fixture
def vocab(tmp_path):
    path = tmp_path / "source" / "vocab.txt"
    path.parent.mkdir()
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def config():
    return AlbertConfig.from_preset("tiny", vocab_size=len(VOCAB), max_position_embeddings=64)


def classifier_settings(output_dir, config, vocab, data_dir="unused", **overrides):
    values = dict(task=get_task("MRPC"), data_dir=str(data_dir), output_dir=str(output_dir),
                  albert_config=config, vocab_file=vocab, max_seq_length=32,
                  num_train_steps=10, do_train=True)
    values.update(overrides)
    return ClassifierSettings(**values)


def record(settings, identity=None, tokenizer=None, phase=None):
    """Writes the run folder's record as a run does once its checks have passed."""
    write_run_record(entry_for_settings(settings).kind, settings,
                     identity or {"model": {}, "data": {}}, tokenizer, phase)


def stand_in_checkpoint(folder, step=20):
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step))
    tf.train.CheckpointManager(checkpoint, RunLayout(str(folder)).checkpoint_dir,
                               max_to_keep=1).save(checkpoint_number=step)


def test_the_registry_is_the_one_place_the_kinds_live():
    assert set(ENTRIES) == {"pretraining", "classification", "question_answering"}
    assert entry("fine_tuning").kind == CLASSIFICATION  # what earlier folders recorded
    for kind, task_entry in ENTRIES.items():
        assert task_entry.task_class().kind == kind
        serving = task_entry.serving()
        assert "max_seq_length" in serving.EXPORT_SETTINGS and callable(serving.serving_module)
    with pytest.raises(UnknownTaskError, match="unknown kind of run 'race'"):
        entry("race")


def test_settings_come_back_typed_from_a_moved_folder(tmp_path, config, vocab):
    run_dir = tmp_path / "run"
    task = custom_task(str(tmp_path), "sentence", "other", "label", False, ["no", "yes"],
                       extension=".tsv")
    settings = classifier_settings(run_dir, config, vocab, task=task, learning_rate=3e-4,
                                   batch_by_length=False)
    tokenizer = WordPieceTokenizer(vocab)
    record(settings, tokenizer=tokenizer)
    config.to_json_file(str(run_dir / "albert_config.json"))
    os.remove(vocab)  # the copy inside is all the folder needs
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.move(str(run_dir), str(moved))
    run = load_run(str(moved))
    assert run.kind == CLASSIFICATION and type(run.settings) is ClassifierSettings
    assert run.settings.task == task  # a nested dataclass, tuples and all
    assert run.settings.output_dir == str(moved)
    assert run.settings.vocab_file == str(moved / "assets" / "vocab.txt")
    expected = dict(vars(settings), output_dir=str(moved), vocab_file=run.settings.vocab_file)
    assert vars(run.settings) == expected
    assert run.tokenizer().tokens == VOCAB and run.tokenizer_sha256 == tokenizer.model_sha256
    assert find_run(str(moved / "checkpoints" / "ckpt-5")).folder == str(moved)


def test_a_recorded_path_is_only_read_inside_the_folder(tmp_path, config, vocab):
    run_dir = tmp_path / "run"
    record(classifier_settings(run_dir, config, vocab), tokenizer=WordPieceTokenizer(vocab))
    config.to_json_file(str(run_dir / "albert_config.json"))
    settings_file = run_dir / "run_settings.json"
    original = json.loads(settings_file.read_text())
    for path, message in (("../../../etc/passwd", "leads outside the run folder"),
                          (vocab, "is not a path inside the run folder"),
                          ("assets/../../source/vocab.txt", "leads outside the run folder")):
        values = json.loads(json.dumps(original))
        values["settings"]["vocab_file"] = path
        settings_file.write_text(json.dumps(values))
        with pytest.raises(RunFolderError, match=f"vocab_file '{path}' {message}"):
            load_run(str(run_dir))
    settings_file.write_text(json.dumps(original))
    (run_dir / "assets" / "vocab.txt").write_text("\n".join(VOCAB[::-1]) + "\n")
    with pytest.raises(RunFolderError, match="is not the tokenizer .* recorded .* it changed"):
        load_run(str(run_dir)).tokenizer()


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["settings"].update(warmup=3), "unknown setting 'warmup' for ClassifierSettings"),
    (lambda r: r["settings"].update(max_seq_length="64"),
     "setting 'max_seq_length' must be an integer, got '64'"),
    (lambda r: r["settings"]["task"].update(labels=[1, 2]),
     r"setting 'task.labels\[0\]' must be a string, got 1"),
    (lambda r: r["settings"]["task"].update(colour="red"), "unknown setting 'task.colour'"),
    (lambda r: r["settings"].pop("task"), "setting 'task' is missing"),
    (lambda r: r["settings"].update(max_seq_length=1000),
     "--max_seq_length=1000 must be between 5"),
    (lambda r: r.update(kind="race"), "unknown kind of run 'race'"),
    (lambda r: r.update(extra=1), "unknown key 'extra'"),
    (lambda r: r.update(format=3), "settings format 3 is newer"),
])
def test_a_bad_record_names_the_key(tmp_path, config, vocab, edit, message):
    run_dir = tmp_path / "run"
    record(classifier_settings(run_dir, config, vocab), tokenizer=WordPieceTokenizer(vocab))
    config.to_json_file(str(run_dir / "albert_config.json"))
    values = json.loads((run_dir / "run_settings.json").read_text())
    edit(values)
    (run_dir / "run_settings.json").write_text(json.dumps(values))
    with pytest.raises((RunFolderError, SettingsError), match=message):
        load_run(str(run_dir))


def test_a_folder_of_an_earlier_version_needs_its_tokenizer_named(tmp_path, config, vocab):
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    settings = classifier_settings(run_dir, config, vocab)
    legacy = {"kind": "fine_tuning", **json.loads(json.dumps(
        {k: v for k, v in vars(settings).items() if k not in ("albert_config", "new_phase")},
        default=lambda o: vars(o)))}
    (run_dir / "run_settings.json").write_text(json.dumps(legacy))
    tokenizer = WordPieceTokenizer(vocab)
    (run_dir / "run.json").write_text(json.dumps({
        "task": "MRPC", "labels": ["0", "1"], "vocab_sha256": tokenizer.model_sha256,
        "do_lower_case": True}))
    config.to_json_file(str(run_dir / "albert_config.json"))
    run = load_run(str(run_dir))
    assert run.legacy and run.settings.task == get_task("MRPC")
    assert run.settings.vocab_file is None  # the path it names is never opened
    with pytest.raises(RunFolderError, match=f"names {vocab}, which is not opened.*pass "
                                             "--spm_model_file .* or --vocab_file"):
        run.tokenizer()
    assert run.tokenizer(vocab_file=vocab).tokens == VOCAB
    other = tmp_path / "other.txt"
    other.write_text("\n".join(VOCAB + ["extra"]) + "\n")
    with pytest.raises(RunFolderError, match="is not the tokenizer .* was trained with"):
        run.tokenizer(vocab_file=str(other))


def test_resume_refuses_changed_training_settings_unless_a_new_phase(tmp_path, config, vocab):
    data = tmp_path / "glue"
    data.mkdir()
    (data / "train.tsv").write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                                    + "1\t1\t2\tthe cat sat\tthe dog sat\n" * 40)
    run_dir = tmp_path / "run"

    def settings(**overrides):
        return classifier_settings(run_dir, config, vocab, data, **overrides)

    def identity(task):
        return {"model": task.model_identity(), "data": task.data_identity()}

    first = ClassificationTask(settings())
    first.validate(None)
    assert first.data_identity()["train_data_sha256"]
    assert first.model_identity()["labels"] == ["0", "1"]
    record(settings(), identity(first), first.tokenizer)
    config.to_json_file(str(run_dir / "albert_config.json"))
    assert check_same_data(settings(), first.data_identity()) is None  # nothing trained yet
    stand_in_checkpoint(run_dir)
    check_same_model(settings(), first.model_identity())
    assert check_same_data(settings(), first.data_identity()) is None  # same settings

    longer = ClassificationTask(settings(max_seq_length=48))
    with pytest.raises(ResumeError, match=r"max_seq_length: 32 \(recorded\) -> 48 \(now\).*"
                                          "--new_phase"):
        check_same_data(settings(max_seq_length=48), longer.data_identity())
    (data / "train.tsv").write_text((data / "train.tsv").read_text() + "0\t3\t4\tc\tb\n")
    edited = ClassificationTask(settings())
    with pytest.raises(ResumeError, match="train_data_sha256"):
        check_same_data(settings(), edited.data_identity())
    # Evaluation or prediction alone reads no training data: no refusal.
    assert check_same_data(settings(do_train=False, do_eval=True),
                           edited.data_identity()) is None

    phase = check_same_data(settings(max_seq_length=48, new_phase=True),
                            longer.data_identity())
    assert phase["step"] == 20 and phase["changed"]["max_seq_length"] == [32, 48]
    record(settings(max_seq_length=48, new_phase=True), identity(longer), first.tokenizer,
           phase)
    recorded = json.loads((run_dir / "run_settings.json").read_text())
    assert recorded["phases"] == [phase] and recorded["settings"]["max_seq_length"] == 48
    assert load_run(str(run_dir)).phases == (phase,)

    # Another task or label set is another model: refused even for a new phase.
    other = ClassificationTask(settings(task=get_task("RTE"), new_phase=True))
    with pytest.raises(ResumeError, match="holds the weights of another run .*'MRPC' "
                                          r"\(recorded\) -> 'RTE' \(now\)"):
        check_same_model(settings(task=get_task("RTE"), new_phase=True),
                         other.model_identity())
    # Evaluation runs leave the training record as it was.
    record(settings(do_train=False, do_eval=True, max_seq_length=16), identity(longer))
    assert json.loads((run_dir / "run_settings.json").read_text()) == recorded


def test_run_squad_refuses_another_train_file_or_head_when_resuming(tmp_path, config, vocab):
    squad = {"data": [{"paragraphs": [{"context": "the cat sat on the mat.", "qas": [
        {"id": "q1", "question": "the cat?", "answers": [{"text": "the mat",
                                                          "answer_start": 15}]}]}]}]}
    train = tmp_path / "train.json"
    train.write_text(json.dumps(squad))
    run_dir = tmp_path / "squad"
    values = dict(output_dir=str(run_dir), albert_config=config, train_file=str(train),
                  vocab_file=vocab, max_seq_length=32, max_query_length=8, doc_stride=8,
                  do_train=True, train_batch_size=1, num_train_steps=20, num_warmup_steps=2)
    task = QuestionAnsweringTask(QASettings(**values))
    record(QASettings(**values), {"model": task.model_identity(),
                                  "data": task.data_identity()}, task.tokenizer)
    config.to_json_file(str(run_dir / "albert_config.json"))
    stand_in_checkpoint(run_dir)
    squad["data"][0]["paragraphs"][0]["qas"][0]["question"] = "where?"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(squad))
    strategy = create_strategy("one_device")
    before = {name: (run_dir / name).read_bytes() for name in ("run_settings.json",)}
    with pytest.raises(ResumeError, match="train_file_sha256: '[0-9a-f]{12}"):
        run_squad(QASettings(**dict(values, train_file=str(other), num_train_steps=40)),
                  strategy)
    with pytest.raises(ResumeError, match=r"max_seq_length: 32 \(recorded\) -> 48"):
        run_squad(QASettings(**dict(values, max_seq_length=48)), strategy)
    with pytest.raises(ResumeError, match="version_2_with_negative: False"):
        run_squad(QASettings(**dict(values, version_2_with_negative=True)), strategy)
    assert before == {name: (run_dir / name).read_bytes() for name in before}
    assert sorted(os.listdir(run_dir)) == ["albert_config.json", "assets", "checkpoints",
                                           "run_settings.json"]


def test_the_config_comes_from_the_folder_and_a_different_one_is_named(tmp_path, config):
    run_dir = tmp_path / "pretrain"
    run_dir.mkdir()
    config.to_json_file(str(run_dir / "albert_config.json"))
    assert run_config(None, None, str(tmp_path / "new"), str(run_dir)) == config
    assert run_config(None, None, str(run_dir), None) == config  # resumed
    given = tmp_path / "given.json"
    config.replace(hidden_dropout_prob=0.1).to_json_file(str(given))
    assert run_config(str(given), None, str(tmp_path / "x"), str(run_dir)).hidden_dropout_prob \
        == 0.1  # dropout may change for fine-tuning
    config.replace(hidden_size=64, num_attention_heads=4).to_json_file(str(given))
    with pytest.raises(RunFolderError, match=f"{given} describes another model than "
                                             "--init_checkpoint's .*hidden_size: 32 vs 64"):
        run_config(str(given), None, str(tmp_path / "x"), str(run_dir))
    with pytest.raises(RunFolderError, match="give --albert_config_file or --preset"):
        run_config(None, None, str(tmp_path / "x"), None)


def test_pretraining_settings_round_trip_without_a_tokenizer(tmp_path, config):
    settings = PretrainingSettings(input_files=("a.tfrecord", "b.tfrecord"),
                                   output_dir=str(tmp_path), albert_config=config,
                                   max_seq_length=64, max_predictions_per_seq=10)
    record(settings)
    config.to_json_file(str(tmp_path / "albert_config.json"))
    run = load_run(str(tmp_path))
    assert run.settings == settings and run.tokenizer() is None


def test_a_vocabulary_larger_than_the_tokenizer_is_a_warning_with_both_numbers(vocab, caplog):
    from albert_tf.data.sentencepiece_tokenizer import TokenizerError
    from albert_tf.data.tokenizers import check_tokenizer_fits

    tokenizer = WordPieceTokenizer(vocab)
    with caplog.at_level(logging.WARNING, logger="absl"):
        check_tokenizer_fits(tokenizer, 30000)
    assert f"vocab_size 30000 is larger than the {len(VOCAB)} pieces" in caplog.text
    with pytest.raises(TokenizerError, match=f"has {len(VOCAB)} pieces but the model's "
                                             "vocab_size is 10: ids past 9 have no embedding"):
        check_tokenizer_fits(tokenizer, 10)
