import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.pretraining_data import PretrainingDataOptions, create_pretraining_data
from albert_tf.data.tokenization import train_sentencepiece
from albert_tf.training.distribution import create_strategy
from albert_tf.training.pretraining import PretrainingSettings, TrainingError, run
from tests.text_corpus import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, SEQ, PREDICTIONS = 300, 64, 10


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretraining")
    text = write_corpus(folder / "a.txt", 150, seed=4)
    spm_model = train_sentencepiece([text], str(folder / "spm"), vocab_size=VOCAB)
    sidecar = create_pretraining_data(
        [text], str(folder / "data"), spm_model,
        PretrainingDataOptions(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
                               dupe_factor=4), num_output_shards=2)
    config = AlbertConfig.from_preset("tiny", vocab_size=VOCAB, hidden_dropout_prob=0.0,
                                      attention_probs_dropout_prob=0.0)
    config_file = folder / "albert_config.json"
    config.to_json_file(str(config_file))
    return sidecar["output_files"], config, str(config_file)


def settings_for(data, output_dir, **overrides):
    files, config, _ = data
    values = dict(input_files=files, eval_files=files, output_dir=str(output_dir),
                  albert_config=config, max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
                  train_batch_size=32, eval_batch_size=32, learning_rate=0.01,
                  num_train_steps=200, num_warmup_steps=10, save_checkpoints_steps=100,
                  iterations_per_loop=25, log_steps=50, max_eval_steps=5, seed=1)
    values.update(overrides)
    return PretrainingSettings(**values)


def test_a_tiny_model_learns_and_writes_everything(data, tmp_path):
    before = run(settings_for(data, tmp_path / "untrained", do_train=False, do_eval=True),
                 create_strategy("one_device"))["eval"]
    results = run(settings_for(data, tmp_path / "run", do_eval=True),
                  create_strategy("one_device"))
    after = results["eval"]
    assert after["step"] == 200
    assert after["mlm_loss"] < before["mlm_loss"] - 0.4, (before, after)
    assert json.loads((tmp_path / "run" / "eval_results.json").read_text()) == after
    checkpoints = tf.train.CheckpointManager(
        tf.train.Checkpoint(), str(tmp_path / "run" / "checkpoints"), 5).checkpoints
    assert [os.path.basename(c) for c in checkpoints] == ["ckpt-100", "ckpt-200"]
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "encoder")) is None
    assert glob.glob(str(tmp_path / "run" / "encoder" / "encoder.index"))
    events = glob.glob(str(tmp_path / "run" / "train" / "events.out.tfevents.*"))
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(path)
            for value in event.summary.value}
    assert {"loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy", "learning_rate",
            "sequences_per_second", "tokens_per_second"} <= tags


def test_bad_settings_are_clear_errors(data, tmp_path):
    with pytest.raises(TrainingError, match="--train_batch_size=0 must be a positive multiple"):
        run(settings_for(data, tmp_path, train_batch_size=0), create_strategy("one_device"))
    with pytest.raises(TrainingError, match="at least one of --do_train and --do_eval"):
        run(settings_for(data, tmp_path, do_train=False), create_strategy("one_device"))


def pretrain_command(data, output_dir, *extra):
    files, _, config_file = data
    return [sys.executable, os.path.join(ROOT, "run_pretraining.py"),
            f"--input_file={','.join(files)}", f"--output_dir={output_dir}",
            f"--albert_config_file={config_file}", f"--max_seq_length={SEQ}",
            f"--max_predictions_per_seq={PREDICTIONS}", "--train_batch_size=16",
            "--learning_rate=0.005", "--num_train_steps=60", "--num_warmup_steps=5",
            "--save_checkpoints_steps=10", "--iterations_per_loop=5", "--log_steps=10",
            "--strategy=one_device", "--seed=3", *extra]


def final_weights(output_dir):
    reader = tf.train.load_checkpoint(str(output_dir / "checkpoints" / "ckpt-60"))
    # Weights and optimizer state alike (the object graph stores each variable once).
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_sigkill_then_rerun_resumes_to_the_same_weights(data, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    straight = subprocess.run(pretrain_command(data, tmp_path / "straight"),
                              capture_output=True, text=True, timeout=600, env=env)
    assert straight.returncode == 0, straight.stderr[-3000:]

    killed_dir = tmp_path / "killed"
    process = subprocess.Popen(pretrain_command(data, killed_dir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not glob.glob(str(killed_dir / "checkpoints" / "ckpt-20.index")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint at 20"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reached = tf.train.latest_checkpoint(str(killed_dir / "checkpoints"))
    assert reached is not None and not reached.endswith("ckpt-60")

    resumed = subprocess.run(pretrain_command(data, killed_dir), capture_output=True, text=True,
                             timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    expected, got = final_weights(tmp_path / "straight"), final_weights(killed_dir)
    assert expected.keys() == got.keys() and len(expected) > 50
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_command_line_errors(data, tmp_path):
    command = pretrain_command(data, tmp_path / "x")
    result = subprocess.run(
        [arg if not arg.startswith("--input_file") else "--input_file=/nonexistent/*.tfrecord"
         for arg in command], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "run_pretraining: --input_file: pattern '/nonexistent/*.tfrecord' matches no file" \
        in result.stderr
    result = subprocess.run(
        [arg if not arg.startswith("--albert_config_file") else "--albert_config_file=/no.json"
         for arg in command], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "/no.json" in result.stderr
    assert "Traceback" not in result.stderr


MIRRORED_SCRIPT = r"""
import json, sys
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from albert_tf.config import AlbertConfig
from albert_tf.training.distribution import create_strategy
from albert_tf.training.pretraining import PretrainingSettings, PretrainingRun
files, config_file, out = json.loads(sys.argv[1])
results = {}
for name in ("one_device", "mirrored"):
    keras.utils.set_random_seed(7)
    strategy = create_strategy(name)
    settings = PretrainingSettings(
        input_files=files, output_dir=out + "/" + name,
        albert_config=AlbertConfig.from_json_file(config_file), max_seq_length=%d,
        max_predictions_per_seq=%d, train_batch_size=16, learning_rate=0.005,
        num_train_steps=6, num_warmup_steps=2, save_checkpoints_steps=6,
        iterations_per_loop=3, log_steps=3, seed=2)
    values = PretrainingRun(settings, strategy).train()
    results[name] = {"replicas": strategy.num_replicas_in_sync, **values}
print(json.dumps(results))
""" % (SEQ, PREDICTIONS)


def test_mirrored_over_two_cpus_matches_one_device(data, tmp_path):
    files, _, config_file = data
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, json.dumps([files, config_file, str(tmp_path)])],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["one_device"]["replicas"] == 1 and values["mirrored"]["replicas"] == 2
    for name in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
        assert values["mirrored"][name] == pytest.approx(values["one_device"][name], rel=1e-4,
                                                         abs=1e-5), name
    one = tf.train.load_checkpoint(str(tmp_path / "one_device" / "checkpoints" / "ckpt-6"))
    two = tf.train.load_checkpoint(str(tmp_path / "mirrored" / "checkpoints" / "ckpt-6"))
    for name in one.get_variable_to_shape_map():
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH":
            np.testing.assert_allclose(two.get_tensor(name), one.get_tensor(name), rtol=1e-4,
                                       atol=1e-5, err_msg=name)


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(data, tmp_path):
    settings = settings_for(data, tmp_path, learning_rate=1e30, num_warmup_steps=0,
                            save_checkpoints_steps=5, iterations_per_loop=5, log_steps=5,
                            num_train_steps=200, optimizer="adamw")
    with pytest.raises(TrainingError, match="non-finite loss at step .*; stopping"):
        run(settings, create_strategy("one_device"))
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    if latest is not None:  # every saved checkpoint predates the blow-up
        reader = tf.train.load_checkpoint(latest)
        for name in reader.get_variable_to_shape_map():
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH":
                assert np.isfinite(reader.get_tensor(name)).all(), name
