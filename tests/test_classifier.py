"""Fine-tuning: packing, cached features, warm start, and an end-to-end run on real SST-2."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.classifier_data import cached_lengths, cached_split, encode_examples
from albert_tf.data.packing import SequenceLengthError, pack, truncate_longest_first
from albert_tf.data.glue import InputExample, get_task
from albert_tf.data.sentencepiece_tokenizer import AlbertTokenizer, train_sentencepiece
from albert_tf.models import AlbertPretrainer
from albert_tf.tasks.classification.task import run
from albert_tf.tasks.classification.task import ClassificationTask, ClassifierSettings
from albert_tf.training.loop import TrainingLoop
from albert_tf.training.distribution import create_strategy
from tests.helpers import GLUE_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SST2 = os.path.join(GLUE_DIR, "SST-2")
needs_sst2 = pytest.mark.skipif(not os.path.exists(os.path.join(SST2, "train.tsv")),
                                reason="SST-2 not present in ../shared/data/glue")


def test_truncation_drops_from_the_end_of_the_longer_segment():
    a, b = list(range(10)), list(range(100, 104))
    truncate_longest_first(a, b, 8)
    assert (a, b) == ([0, 1, 2, 3], [100, 101, 102, 103])  # a shrank to b's length, then tie
    a, b = [1, 2, 3], [4, 5, 6]
    truncate_longest_first(a, b, 5)
    assert (a, b) == ([1, 2, 3], [4, 5])  # on a tie b loses first
    ids, mask, segments = pack([7, 8, 9], [5, 6], 8)
    assert ids == [2, 7, 8, 9, 3, 5, 6, 3] and mask == [1] * 8
    assert segments == [0, 0, 0, 0, 0, 1, 1, 1]
    ids, mask, segments = pack([7, 8, 9, 10, 11], None, 5)
    assert ids == [2, 7, 8, 9, 3] and segments == [0] * 5
    ids, mask, _ = pack([7], None, 5)
    assert ids == [2, 7, 3, 0, 0] and mask == [1, 1, 1, 0, 0]
    with pytest.raises(SequenceLengthError, match="--max_seq_length=4 must be at least 5"):
        encode_examples([InputExample("0", "a")], get_task("SST-2"), None, 4)


@pytest.fixture(scope="module")
def sst2(tmp_path_factory):
    """A slice of real SST-2 train, the real dev set, a SentencePiece model, a tiny config."""
    if not os.path.exists(os.path.join(SST2, "train.tsv")):
        pytest.skip("SST-2 not present in ../shared/data/glue")
    folder = tmp_path_factory.mktemp("sst2")
    data = folder / "SST-2"
    data.mkdir()
    with open(os.path.join(SST2, "train.tsv"), encoding="utf-8") as handle:
        lines = handle.readlines()
    (data / "train.tsv").write_text("".join(lines[:4001]), encoding="utf-8")
    for split in ("dev", "test"):
        (data / f"{split}.tsv").write_bytes(open(os.path.join(SST2, f"{split}.tsv"), "rb").read())
    corpus = folder / "corpus.txt"
    corpus.write_text("".join(line.split("\t")[0] + "\n" for line in lines[1:20001]),
                      encoding="utf-8")
    spm_model = train_sentencepiece([str(corpus)], str(folder / "spm"), vocab_size=2000)
    config = AlbertConfig.from_preset("tiny", vocab_size=2000, hidden_size=64,
                                      intermediate_size=128, num_hidden_layers=2,
                                      embedding_size=32)
    return str(data), spm_model, config, folder


def settings_for(sst2, output_dir, **overrides):
    data, spm_model, config, _ = sst2
    values = dict(task=get_task("SST-2"), data_dir=data, spm_model_file=spm_model,
                  albert_config=config, output_dir=str(output_dir), max_seq_length=64,
                  train_batch_size=32, eval_batch_size=64, predict_batch_size=64,
                  learning_rate=1e-3, num_train_steps=400, num_warmup_steps=40,
                  save_checkpoints_steps=200, iterations_per_loop=50, log_steps=100,
                  do_train=True, do_eval=True, do_predict=True, seed=3)
    values.update(overrides)
    return ClassifierSettings(**values)


def test_fine_tuning_on_real_sst2_beats_the_majority_class(sst2, tmp_path):
    spm_copy = tmp_path / "spm_for_this_run.model"  # removed once the run has its own copy
    shutil.copyfile(sst2[1], spm_copy)
    run_dir = tmp_path / "run"
    results = run(settings_for(sst2, run_dir, spm_model_file=str(spm_copy),
                               export_dir=str(tmp_path / "exports")),
                  create_strategy("one_device"))
    dev = get_task("SST-2").read(sst2[0], "dev")
    majority = max(np.mean([e.label == "1" for e in dev]), np.mean([e.label == "0" for e in dev]))
    assert results["best"]["accuracy"] > majority + 0.1, (results, majority)

    report = json.loads((run_dir / "eval_results.json").read_text())
    assert [e["step"] for e in report["evaluations"]] == [200, 400]
    assert report["best"] == max(report["evaluations"], key=lambda e: e["accuracy"])
    assert report["main_metric"] == "accuracy"
    assert (run_dir / "best" / "model.index").exists()

    lines = (run_dir / "SST-2.tsv").read_text().splitlines()
    test = get_task("SST-2").read(sst2[0], "test")
    assert lines[0] == "index\tprediction" and len(lines) == len(test) + 1
    assert [line.split("\t")[0] for line in lines[1:]] == [e.index for e in test]
    assert {line.split("\t")[1] for line in lines[1:]} <= {"0", "1"}

    # The export serves the best weights: raw text gives the submission's labels.
    assert results["export"] == str(tmp_path / "exports" / "sst-2" / "1")
    served = tf.saved_model.load(results["export"]).signatures["serving_default"]
    labels = served(text_a=tf.constant([e.text_a for e in test[:200]]))["label"].numpy()
    assert [label.decode() for label in labels] == [line.split("\t")[1] for line in lines[1:201]]

    # The run folder holds what it needs: its typed settings and its own tokenizer copy.
    recorded = json.loads((run_dir / "run_settings.json").read_text())
    assert recorded["format"] == 2 and recorded["kind"] == "classification"
    assert recorded["settings"]["max_seq_length"] == 64
    assert recorded["settings"]["task"]["name"] == "SST-2"
    assert recorded["settings"]["spm_model_file"] == "assets/spiece.model"
    assert (run_dir / "assets" / "spiece.model").read_bytes() == spm_copy.read_bytes()
    assert recorded["tokenizer"]["sha256"] == AlbertTokenizer(str(spm_copy)).model_sha256
    assert recorded["identity"]["model"]["labels"] == ["0", "1"]
    # Moved to another path, its tokenizer's source gone, exported from a third directory
    # with a relative path and no tokenizer flag: the same model serves the same logits.
    spm_copy.unlink()
    moved = tmp_path / "elsewhere" / "moved_run"
    moved.parent.mkdir()
    shutil.move(str(run_dir), str(moved))
    third = tmp_path / "third"
    third.mkdir()
    result = subprocess.run([sys.executable, os.path.join(ROOT, "export_model.py"),
                             "--init_checkpoint=../elsewhere/moved_run",
                             "--export_dir=exports"],
                            capture_output=True, text=True, timeout=300, cwd=third)
    assert result.returncode == 0, result.stderr[-2000:]
    exported = result.stdout.strip().splitlines()[-1]
    assert exported == os.path.join("exports", "sst-2", "1")
    again = tf.saved_model.load(str(third / exported))
    texts = tf.constant([e.text_a for e in test[:50]])
    np.testing.assert_allclose(again.signatures["serving_default"](text_a=texts)["logits"],
                               served(text_a=texts)["logits"], atol=1e-5)


def test_a_mixed_bfloat16_run_scores_and_predicts_what_its_float32_export_serves(
        sst2, tmp_path, monkeypatch):
    """Under mixed_bfloat16 (what --precision=auto picks on a CPU with bfloat16
    instructions) training computes in bfloat16 but evaluation and prediction in float32:
    the logits the run scored dev and predicted test with are a float32 model's of the same
    weights (which bfloat16's are not), and its submission file holds the labels the
    float32 export serves. (The conftest fixture puts the policy back after the test.)"""
    import keras
    seen = {}  # the logits of the run's last dev evaluation and of its test prediction
    predict_outputs = ClassificationTask.predict_outputs

    def recording(task, model, path, batch_size):
        seen[os.path.basename(path)] = outputs = predict_outputs(task, model, path, batch_size)
        return outputs

    monkeypatch.setattr(ClassificationTask, "predict_outputs", recording)
    results = run(settings_for(sst2, tmp_path / "run", precision="mixed_bfloat16",
                               num_train_steps=100, num_warmup_steps=10,
                               save_checkpoints_steps=100, iterations_per_loop=50,
                               export_dir=str(tmp_path / "exports")),
                  create_strategy("one_device"))
    monkeypatch.undo()
    run_logits = dict(seen)

    def best_weights_under(policy, folder):
        keras.mixed_precision.set_global_policy(policy)
        task = ClassificationTask(settings_for(sst2, tmp_path / folder))
        model = task.build_model()
        tf.train.Checkpoint(model=model).read(str(tmp_path / "run" / "best" / "model")
                                              ).expect_partial()
        return task, model

    in_bfloat16, bf16_model = best_weights_under("mixed_bfloat16", "bfloat16")
    task, model = best_weights_under("float32", "float32")
    dev_path, dev = task.split("dev")
    test_path, test = task.split("test")
    dev_logits = task.predict_outputs(model, dev_path, 64)
    test_logits = task.predict_outputs(model, test_path, 64)
    bf16_logits = in_bfloat16.predict_outputs(bf16_model, dev_path, 64)
    # In bfloat16 the same weights give other logits: the float32 evaluation is not moot.
    assert np.abs(bf16_logits - dev_logits).max() > 1e-4
    np.testing.assert_allclose(run_logits[os.path.basename(dev_path)], dev_logits, atol=1e-5)
    np.testing.assert_allclose(run_logits[os.path.basename(test_path)], test_logits,
                               atol=1e-5)

    labels = [task.data.labels.index(e.label) for e in dev]
    assert results["best"]["step"] == 100 and results["best"]["examples"] == len(dev) == 872
    assert results["best"]["accuracy"] == np.mean(np.argmax(dev_logits, -1) == labels)
    lines = (tmp_path / "run" / "SST-2.tsv").read_text().splitlines()[1:]
    assert [line.split("\t")[1] for line in lines] == [
        task.data.labels[i] for i in np.argmax(test_logits, -1)]
    served = tf.saved_model.load(results["export"]).signatures["serving_default"]
    texts = tf.constant([e.text_a for e in test[:300]])
    np.testing.assert_allclose(served(text_a=texts)["logits"], test_logits[:300], atol=1e-5)


def test_features_are_cached_and_rebuilt_when_settings_change(sst2, tmp_path):
    data, spm_model, _, _ = sst2
    tokenizer = AlbertTokenizer(spm_model)
    task = get_task("SST-2")
    path, examples = cached_split(task, "dev", data, str(tmp_path), tokenizer, 32)
    first = os.stat(path).st_mtime_ns
    assert cached_split(task, "dev", data, str(tmp_path), tokenizer, 32)[0] == path
    assert os.stat(path).st_mtime_ns == first
    records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    assert len(records) == len(examples) == 872
    parsed = tf.train.Example.FromString(records[0]).features.feature
    expected = pack(tokenizer.encode(examples[0].text_a), None, 32)[0]
    assert list(parsed["input_ids"].int64_list.value) == expected
    assert list(parsed["label_ids"].int64_list.value) == [int(examples[0].label)]
    cached_split(task, "dev", data, str(tmp_path), tokenizer, 48)
    assert len(tf.train.Example.FromString(next(
        tf.data.TFRecordDataset(path).as_numpy_iterator())).features.feature[
            "input_ids"].int64_list.value) == 48


def test_the_cache_records_lengths_and_rebuilds_a_cache_without_them(sst2, tmp_path):
    data, spm_model, _, _ = sst2
    tokenizer = AlbertTokenizer(spm_model)
    task = get_task("SST-2")
    path, examples = cached_split(task, "dev", data, str(tmp_path), tokenizer, 32)
    masks = [tf.train.Example.FromString(record).features.feature["input_mask"]
             .int64_list.value for record in tf.data.TFRecordDataset(path).as_numpy_iterator()]
    lengths = [sum(mask) for mask in masks]
    assert cached_lengths(path) == {"mean_length": round(float(np.mean(lengths)), 3),
                                    "max_length": max(lengths)}
    # A cache written before lengths were recorded (same fingerprint otherwise) is rebuilt.
    sidecar = json.loads(open(path + ".json").read())
    del sidecar["lengths"]
    open(path + ".json", "w").write(json.dumps(sidecar))
    before = os.stat(path).st_mtime_ns
    cached_split(task, "dev", data, str(tmp_path), tokenizer, 32, examples)
    assert os.stat(path).st_mtime_ns != before and "lengths" in json.loads(
        open(path + ".json").read())


def test_warm_start_from_a_pretraining_checkpoint_reports_the_fresh_head(sst2, tmp_path):
    _, _, config, _ = sst2
    pretrainer = AlbertPretrainer(config)
    prefix = tf.train.Checkpoint(model=pretrainer).write(str(tmp_path / "pretrained" / "ckpt"))
    settings = settings_for(sst2, tmp_path / "run", init_checkpoint=prefix)
    runner = TrainingLoop(ClassificationTask(settings), settings, create_strategy("one_device"))
    assert runner.restore() == 0
    for expected, got in zip(pretrainer.encoder.weights, runner.model.encoder.weights):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)
    report = runner.warm_start_report
    assert report.root == "model/encoder"
    assert report.fresh and all(name.startswith("classifier/") for name in report.fresh)


def test_regression_reports_pearson_and_spearman(tmp_path, sst2):
    stsb = os.path.join(GLUE_DIR, "STS-B")
    if not os.path.exists(os.path.join(stsb, "train.tsv")):
        pytest.skip("STS-B not present")
    data = tmp_path / "STS-B"
    data.mkdir()
    for split, rows in (("train", 801), ("dev", 201)):
        with open(os.path.join(stsb, f"{split}.tsv"), encoding="utf-8") as handle:
            (data / f"{split}.tsv").write_text("".join(handle.readlines()[:rows]))
    settings = settings_for(sst2, tmp_path / "run", task=get_task("STS-B"), data_dir=str(data),
                            num_train_steps=40, save_checkpoints_steps=40, do_predict=False)
    results = run(settings, create_strategy("one_device"))
    assert set(results["best"]) == {"step", "pearson", "spearman", "examples"}
    assert results["best"]["examples"] == 200 and -1 <= results["best"]["pearson"] <= 1


def final_state(output_dir, step):
    reader = tf.train.load_checkpoint(str(output_dir / "checkpoints" / f"ckpt-{step}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_a_crashed_fine_tuning_run_resumes_with_its_evaluation_history(sst2, tmp_path):
    _, _, config, _ = sst2
    deterministic = dict(albert_config=config.replace(hidden_dropout_prob=0.0,
                                                      attention_probs_dropout_prob=0.0),
                         dropout_rate=0.0, num_train_steps=90, save_checkpoints_steps=30,
                         iterations_per_loop=30, do_predict=False)
    straight = run(settings_for(sst2, tmp_path / "straight", **deterministic),
                   create_strategy("one_device"))

    class Crash(Exception):
        pass

    settings = settings_for(sst2, tmp_path / "crashed", **deterministic)
    crashed = TrainingLoop(ClassificationTask(settings), settings,
                           create_strategy("one_device"))
    crashed.restore()

    def evaluate_then_crash(step):
        crashed.task.evaluate_and_keep_best(crashed)
        if step == 60:
            raise Crash()

    with pytest.raises(Crash):
        crashed.train(evaluate_then_crash)
    report = json.loads((tmp_path / "crashed" / "eval_results.json").read_text())
    assert [e["step"] for e in report["evaluations"]] == [30, 60]

    resumed = run(settings_for(sst2, tmp_path / "crashed", **deterministic),
                  create_strategy("one_device"))
    report = json.loads((tmp_path / "crashed" / "eval_results.json").read_text())
    expected = json.loads((tmp_path / "straight" / "eval_results.json").read_text())
    assert [e["step"] for e in report["evaluations"]] == [30, 60, 90]
    for got, want in zip(report["evaluations"], expected["evaluations"]):
        assert got["accuracy"] == pytest.approx(want["accuracy"], abs=1.5 / 872), (got, want)
    assert resumed["best"]["step"] == straight["best"]["step"]
    want, got = final_state(tmp_path / "straight", 90), final_state(tmp_path / "crashed", 90)
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_batches_by_length_predict_what_padding_to_max_seq_length_predicts(sst2, tmp_path):
    outputs, model = {}, None
    for by_length in (True, False):
        settings = settings_for(sst2, tmp_path / str(by_length), batch_by_length=by_length)
        task = ClassificationTask(settings)
        model = model or task.build_model()
        path, _ = task.split("dev")
        outputs[by_length] = task.predict_outputs(model, path, 64)
    assert outputs[True].shape == (872, 2)
    np.testing.assert_allclose(outputs[True], outputs[False], atol=1e-5)


def test_micro_batches_by_length_give_the_update_of_one_big_batch(sst2, tmp_path):
    _, _, config, _ = sst2
    deterministic = dict(albert_config=config.replace(hidden_dropout_prob=0.0,
                                                      attention_probs_dropout_prob=0.0),
                         dropout_rate=0.0, num_train_steps=3, save_checkpoints_steps=3,
                         iterations_per_loop=3, do_eval=False, do_predict=False)
    for steps in (1, 4):
        run(settings_for(sst2, tmp_path / str(steps), gradient_accumulation_steps=steps,
                         **deterministic), create_strategy("one_device"))
    want, got = final_state(tmp_path / "1", 3), final_state(tmp_path / "4", 3)
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6, err_msg=name)


MIRRORED_SCRIPT = r"""
import json, sys
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from albert_tf.config import AlbertConfig
from albert_tf.data.glue import get_task
from albert_tf.tasks.classification.task import ClassifierSettings, run
from albert_tf.training.distribution import create_strategy
data, spm_model, config_file, out = json.loads(sys.argv[1])
config = AlbertConfig.from_json_file(config_file).replace(
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
results = {}
for name in ("one_device", "mirrored"):
    keras.utils.set_random_seed(7)
    strategy = create_strategy(name)
    settings = ClassifierSettings(
        task=get_task("SST-2"), data_dir=data, spm_model_file=spm_model, albert_config=config,
        output_dir=out + "/" + name, max_seq_length=64, train_batch_size=32,
        eval_batch_size=64, learning_rate=1e-3, num_train_steps=20, num_warmup_steps=4,
        save_checkpoints_steps=20, iterations_per_loop=10, log_steps=10, dropout_rate=0.0,
        do_train=True, do_eval=True, seed=3)
    values = run(settings, strategy)
    results[name] = {"replicas": strategy.num_replicas_in_sync, **values["train"],
                     **{"eval_" + k: v for k, v in values["eval"].items()}}
print(json.dumps(results))
"""


def test_mirrored_fine_tuning_over_two_cpus_matches_one_device(sst2, tmp_path):
    data, spm_model, config, folder = sst2
    config_file = tmp_path / "config.json"
    config.to_json_file(str(config_file))
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT,
         json.dumps([data, spm_model, str(config_file), str(tmp_path)])],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.strip().splitlines()[-1])
    one, two = values["one_device"], values["mirrored"]
    assert one["replicas"] == 1 and two["replicas"] == 2
    for name in ("loss", "accuracy", "eval_accuracy"):
        assert two[name] == pytest.approx(one[name], rel=1e-4, abs=1.5 / 872), name
    want, got = final_state(tmp_path / "one_device", 20), final_state(tmp_path / "mirrored", 20)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5, err_msg=name)
