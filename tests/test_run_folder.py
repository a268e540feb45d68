"""Run folders as the hand-off: the task registry, the typed record read back, the
tokenizer copy (only ever read from inside the folder), folders of earlier versions, and
the resume rule (what changed is listed; --new_phase records it). No model is trained
here: records are written as a run writes them and checkpoints are stand-ins."""

import json
import logging
import os
import re
import shutil

import pytest
import tensorflow as tf

from albert_tf.checkpoints.layout import RunFolderError, RunLayout
from albert_tf.config import AlbertConfig, ConfigError
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
from albert_tf.training.run_record import ResumeCheck, ResumeError, write_run_record
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
                     identity or {"model": {}, "data": {}}, tokenizer, phase,
                     RunLayout(settings.output_dir).read_record())


def stand_in_checkpoint(folder, step=20):
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step))
    tf.train.CheckpointManager(checkpoint, RunLayout(str(folder)).checkpoint_dir,
                               max_to_keep=1).save(checkpoint_number=step)


def test_the_registry_is_the_one_place_the_kinds_live():
    assert set(ENTRIES) == {"pretraining", "classification", "question_answering",
                            "multiple_choice"}
    assert entry("fine_tuning").kind == CLASSIFICATION  # what earlier folders recorded
    for kind, task_entry in ENTRIES.items():
        assert task_entry.task_class().kind == kind
        serving = task_entry.serving()
        assert "max_seq_length" in serving.EXPORT_SETTINGS and callable(serving.serving_module)
    with pytest.raises(UnknownTaskError, match="unknown kind of run 'ner'"):
        entry("ner")


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
    (lambda r: r.pop("kind"), "no 'kind' of run recorded"),
    (lambda r: r.update(settings=[1]), "'settings' must be an object"),
    (lambda r: r.update(tokenizer="abc"), "'tokenizer' must be an object or null"),
    (lambda r: r.update(phases={}), "'identity' must be an object and 'phases' a list"),
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
    assert ResumeCheck(settings()).same_data(first.data_identity()) is None  # none trained
    stand_in_checkpoint(run_dir)
    ResumeCheck(settings()).same_model(first.model_identity())
    assert ResumeCheck(settings()).same_data(first.data_identity()) is None  # same settings

    longer = ClassificationTask(settings(max_seq_length=48))
    with pytest.raises(ResumeError, match=r"max_seq_length: 32 \(recorded\) -> 48 \(now\).*"
                                          "--new_phase"):
        ResumeCheck(settings(max_seq_length=48)).same_data(longer.data_identity())
    (data / "train.tsv").write_text((data / "train.tsv").read_text() + "0\t3\t4\tc\tb\n")
    edited = ClassificationTask(settings())
    with pytest.raises(ResumeError, match="train_data_sha256"):
        ResumeCheck(settings()).same_data(edited.data_identity())
    # Evaluation or prediction alone reads no training data: no refusal.
    assert ResumeCheck(settings(do_train=False, do_eval=True)).same_data(
        edited.data_identity()) is None

    phase = ResumeCheck(settings(max_seq_length=48, new_phase=True)).same_data(
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
        ResumeCheck(settings(task=get_task("RTE"), new_phase=True)).same_model(
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
    # (A refused run also takes back the lock file it created.)
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


def test_model_flags_change_the_config_on_top_of_a_preset_or_the_folder(tmp_path, config):
    sized = run_config(None, "base", str(tmp_path / "new"), None,
                       {"num_hidden_layers": 6, "vocab_size": 21128})
    assert sized == AlbertConfig.from_preset("base", num_hidden_layers=6, vocab_size=21128)
    run_dir = tmp_path / "pretrain"
    (run_dir / "checkpoints").mkdir(parents=True)
    config.to_json_file(str(run_dir / "albert_config.json"))
    # Fine-tuning from the folder with more dropout: the folder's config, changed.
    tuned = run_config(None, None, str(tmp_path / "tune"), str(run_dir),
                       {"hidden_dropout_prob": 0.1})
    assert tuned == config.replace(hidden_dropout_prob=0.1)
    # Resuming it as another model: refused, naming the flag and the folder's file.
    (run_dir / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    with pytest.raises(RunFolderError, match=(
            r"the folder's config with --hidden_size=64 describes another model than the "
            rf"{re.escape(str(run_dir / 'albert_config.json'))} of the run in --output_dir "
            rf"{re.escape(str(run_dir))} \(hidden_size: 32 in the folder vs 64\)")):
        run_config(None, None, str(run_dir), None, {"hidden_size": 64})
    assert run_config(None, None, str(run_dir), None) == config
    with pytest.raises(ConfigError, match="sharing"):
        run_config(None, "tiny", str(tmp_path / "x"), None, {"sharing": "everything"})


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


def test_what_is_not_a_whole_run_folder_is_named(tmp_path, config, vocab):
    with pytest.raises(RunFolderError, match="not a run folder .no run_settings.json"):
        load_run(str(tmp_path))
    run_dir = tmp_path / "run"
    record(classifier_settings(run_dir, config, vocab), tokenizer=WordPieceTokenizer(vocab))
    os.remove(run_dir / "albert_config.json")
    with pytest.raises(RunFolderError, match="no albert_config.json beside run_settings.json"):
        load_run(str(run_dir))
    config.to_json_file(str(run_dir / "albert_config.json"))
    os.remove(run_dir / "assets" / "vocab.txt")
    with pytest.raises(RunFolderError, match="the run's tokenizer copy is missing from"):
        load_run(str(run_dir)).tokenizer()


@pytest.mark.parametrize("settings_class, values, message", [
    (PretrainingSettings, dict(input_files=(), do_train=True), "--do_train needs --input_file"),
    (PretrainingSettings, dict(input_files=("a",), max_predictions_per_seq=65,
                               max_seq_length=64), "--max_predictions_per_seq=65 must be"),
    (PretrainingSettings, dict(input_files=("a",), do_eval=True),
     "--do_eval needs --eval_file"),
    (QASettings, dict(do_train=True, train_file="t.json", max_query_length=8, dropout_prob=1.0),
     r"--dropout_prob must be in \[0, 1\), got 1.0"),
    (QASettings, dict(do_predict=True, predict_file="p.json", max_seq_length=32,
                      max_query_length=29), "--max_query_length=29 leaves no room"),
    (QASettings, dict(do_train=True, train_file="t.json", max_query_length=8, evaluation="bleu"),
     "--evaluation must be one of squad, cmrc2018, got 'bleu'"),
    (ClassifierSettings, dict(task=get_task("MRPC"), data_dir="d", dropout_rate=-0.1),
     r"dropout_rate must be in \[0, 1\), got -0.1"),
    (ClassifierSettings, dict(task=get_task("MRPC"), data_dir="d", do_train=False),
     "at least one of --do_train, --do_eval and --do_predict"),
    (ClassifierSettings, dict(task=get_task("MRPC"), data_dir="d", num_train_steps=0),
     "--train_step must be at least 1, got 0"),  # the flag's name, not the field's
    (ClassifierSettings, dict(task=get_task("MRPC"), data_dir="d", optimizer="sgd"),
     "--optimizer must be one of lamb, adamw, got 'sgd'"),
])
def test_settings_refuse_values_out_of_range_naming_the_flag(settings_class, values, message,
                                                             config):
    settings = settings_class(output_dir="out", albert_config=config,
                              **{"max_seq_length": 32, **values})
    with pytest.raises(SettingsError, match=message):
        settings.validate()


def test_the_records_tokenizer_is_kept_only_while_it_is_the_file_they_were_made_with(
        tmp_path, vocab, caplog):
    from albert_tf.data.pretraining_dataset import recorded_tokenizer
    from albert_tf.data.shards import MANIFEST_TOOL

    records = tmp_path / "train.tfrecord"
    records.write_bytes(b"")
    tokenizer = WordPieceTokenizer(vocab)

    def manifest(path):
        (tmp_path / "train.manifest.json").write_text(json.dumps({
            "tool": MANIFEST_TOOL, "spm_model_file": None, "vocab_file": path,
            "tokenizer_sha256": tokenizer.model_sha256,
            "options": {"do_lower_case": False}}))

    manifest(vocab)
    assert recorded_tokenizer([str(records)]) == {"vocab_file": vocab, "do_lower_case": False}
    with open(vocab, "a", encoding="utf-8") as handle:
        handle.write("new\n")
    with caplog.at_level(logging.WARNING, logger="absl"):
        assert recorded_tokenizer([str(records)]) is None
        manifest(str(tmp_path / "gone.txt"))
        assert recorded_tokenizer([str(records)]) is None
    assert "changed since they were written" in caplog.text and "is gone" in caplog.text


def test_exports_refuse_what_the_model_cannot_serve(tmp_path, config, vocab):
    from albert_tf.export.saved_model import ExportError
    from albert_tf.tasks.export_run import ExportOptions, ModelSource
    from albert_tf.tasks.pretraining.serving import encoder_module
    from albert_tf.tasks.question_answering import serving as qa_serving

    encoder = ModelSource("pretraining", PretrainingSettings(
        input_files=(), output_dir=str(tmp_path), albert_config=config), str(tmp_path))
    with pytest.raises(ExportError, match="keeps no tokenizer, which the raw-text signatures "
                                          "need: pass --spm_model_file or --vocab_file, or "
                                          "--notext_signatures"):
        encoder_module(encoder, ExportOptions())
    qa = ModelSource("question_answering", QASettings(output_dir=str(tmp_path),
                                                      albert_config=config), str(tmp_path))
    with pytest.raises(ExportError, match="always has its raw-text signature"):
        qa_serving.serving_module(qa, ExportOptions(text_signatures=False))
    with pytest.raises(ExportError, match="question answering needs the tokenizer"):
        qa_serving.serving_module(qa, ExportOptions())
    classifier = ModelSource("classification", classifier_settings(tmp_path, config, vocab),
                             str(tmp_path))
    other = tmp_path / "other_config.json"
    config.replace(num_hidden_layers=2).to_json_file(str(other))
    with pytest.raises(ExportError, match=f"--albert_config_file {other} is not the config"):
        classifier.check_description({"albert_config_file": str(other)})
    with pytest.raises(ExportError, match="--text_pair=False but .* with text_pair=True"):
        classifier.check_description({"text_pair": False, "version_2_with_negative": True})
