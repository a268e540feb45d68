import dataclasses
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import keras

from albert_tf.checkpoints.warm_start import CheckpointMismatchError, warm_start
from albert_tf.config import AlbertConfig
from albert_tf.data.pretraining_data import PretrainingDataSettings, create_pretraining_data
from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece
from albert_tf.models import AlbertPretrainer
from albert_tf.training import distribution
from albert_tf.training.distribution import create_strategy
from albert_tf.tasks.pretraining.task import (PretrainingSettings, PretrainingTask, TrainingError,
                                         run)
from albert_tf.training.loop import TrainingLoop
from tests.text_corpus import write_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, SEQ, PREDICTIONS = 300, 64, 10


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretraining")
    # Short titled documents (one SOP chunk each): segment A holds the title unless the
    # pair was swapped, so SOP is learnable.
    text = write_corpus(folder / "a.txt", 400, seed=4, sentences=(1, 4), words=(4, 10),
                        titled=True)
    spm_model = train_sentencepiece([text], str(folder / "spm"), vocab_size=VOCAB)
    sidecar = create_pretraining_data(
        [text], str(folder / "data"), spm_model,
        PretrainingDataSettings(max_seq_length=SEQ, max_predictions_per_seq=PREDICTIONS,
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


def pretraining_loop(settings, strategy):
    return TrainingLoop(PretrainingTask(settings), settings, strategy)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """(eval before training, eval after 400 steps, run directory)."""
    folder = tmp_path_factory.mktemp("trained")
    keras.utils.set_random_seed(5)  # module fixtures run before the per-test seeding
    before = run(settings_for(data, folder / "untrained", do_train=False, do_eval=True),
                 create_strategy("one_device"))["eval"]
    after = run(settings_for(data, folder / "run", do_eval=True, peak_flops=1e9,
                             learning_rate=0.02, num_train_steps=400,
                             save_checkpoints_steps=200),
                create_strategy("one_device"))["eval"]
    return before, after, folder / "run"


def test_a_tiny_model_learns_mlm_and_sop(trained):
    before, after, _ = trained
    assert after["step"] == 400
    assert after["mlm_loss"] < before["mlm_loss"] - 0.4, (before, after)
    assert abs(before["sop_accuracy"] - 0.5) < 0.15, before
    # 160 eval pairs: chance is 0.5 +- 0.04, so 0.75 is far above it.
    assert after["sop_accuracy"] > 0.75, (before, after)


def test_a_run_writes_results_checkpoints_encoder_and_summaries(trained):
    _, after, run_dir = trained
    # settings_for's eval files are the training shards: the set is named after them.
    assert json.loads((run_dir / "eval_results_data.json").read_text()) == after
    assert not (run_dir / "eval_results.json").exists()
    checkpoints = tf.train.CheckpointManager(
        tf.train.Checkpoint(), str(run_dir / "checkpoints"), 5).checkpoints
    assert [os.path.basename(c) for c in checkpoints] == ["ckpt-200", "ckpt-400"]
    assert tf.train.latest_checkpoint(str(run_dir / "encoder")) is None
    assert glob.glob(str(run_dir / "encoder" / "encoder.index"))
    events = glob.glob(str(run_dir / "train" / "events.out.tfevents.*"))
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(path)
            for value in event.summary.value}
    assert {"loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy", "learning_rate",
            "sequences_per_second", "tokens_per_second", "model_flops_utilization"} <= tags


def test_eval_scores_every_record_with_means_over_positions_and_pairs(data, tmp_path):
    """Before: the last partial batch was dropped (32 of 37 scored) and a batch larger
    than the set was refused. Now the means are over every masked position and every
    pair, as the original's metrics (computed here independently, in NumPy)."""
    from albert_tf.data.pretraining_dataset import pretraining_dataset

    files, config, _ = data
    records = sum(1 for path in files for _ in tf.data.TFRecordDataset(path))
    for batch in (48, records + 5):  # a partial last batch; one batch beyond the set
        assert records % batch
        runner = pretraining_loop(settings_for(data, tmp_path / str(batch), do_train=False,
                                               do_eval=True, eval_batch_size=batch,
                                               max_eval_steps=1000),
                                  create_strategy("one_device"))
        runner.restore()
        results = runner.task.evaluate(runner)
        assert results["eval_examples"] == records
        assert results["eval_batches"] == -(-records // batch)

        sop_correct, sop_losses, hits, losses, weights = [], [], [], [], []
        for features in pretraining_dataset(files, SEQ, PREDICTIONS, batch,
                                            is_training=False, drop_remainder=False):
            outputs = runner.model(features, training=False)
            sop = outputs["sop_logits"].numpy().astype("float64")
            labels = features["next_sentence_labels"].numpy().reshape(-1)
            sop_correct.extend(np.argmax(sop, -1) == labels)
            log_softmax = sop - np.log(np.exp(sop).sum(-1, keepdims=True))
            sop_losses.extend(-log_softmax[np.arange(len(labels)), labels])
            mlm = outputs["mlm_logits"].numpy().astype("float64")
            ids = features["masked_lm_ids"].numpy()
            mlm_log_softmax = mlm - np.log(np.exp(mlm).sum(-1, keepdims=True))
            losses.append(-np.take_along_axis(mlm_log_softmax, ids[..., None], -1)[..., 0])
            hits.append(np.argmax(mlm, -1) == ids)
            weights.append(features["masked_lm_weights"].numpy())
        weights, hits, losses = (np.concatenate(x) for x in (weights, hits, losses))
        assert len(sop_correct) == records
        assert results["eval_masked_positions"] == int(weights.sum())
        assert results["sop_accuracy"] == pytest.approx(np.mean(sop_correct), abs=1e-6)
        assert results["sop_loss"] == pytest.approx(np.mean(sop_losses), rel=1e-5)
        assert results["mlm_accuracy"] == pytest.approx(
            (hits * weights).sum() / weights.sum(), abs=1e-6)
        assert results["mlm_loss"] == pytest.approx(
            (losses * weights).sum() / weights.sum(), rel=1e-5)

def trained_model(config, checkpoint):
    model = AlbertPretrainer(config)
    tf.train.Checkpoint(model=model).restore(checkpoint).expect_partial()
    return model


def test_init_checkpoint_warm_starts_model_weights_not_the_optimizer(data, trained, tmp_path):
    _, _, run_dir = trained
    config = data[1]
    source = trained_model(config, str(run_dir / "checkpoints" / "ckpt-400"))
    runner = pretraining_loop(settings_for(data, tmp_path / "warm", init_checkpoint=str(run_dir),
                                           num_train_steps=20),
                              create_strategy("one_device"))
    assert runner.restore() == 0  # a warm start, not a resume: the step starts at 0
    for expected, got in zip(source.weights, runner.model.weights):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)
    assert all(not np.any(slot.numpy()) for slot in runner.optimizer.variables
               if "momentum" in slot.path or "velocity" in slot.path)
    runner.train()
    assert runner.step == 20


def test_an_encoder_only_checkpoint_leaves_the_heads_fresh_and_says_so(data, trained):
    _, _, run_dir = trained
    config = data[1]
    source = trained_model(config, str(run_dir / "checkpoints" / "ckpt-400"))
    keras.utils.set_random_seed(99)
    model = AlbertPretrainer(config)
    report = warm_start(str(run_dir / "encoder" / "encoder"), model,
                        [(("model",), model), (("encoder",), model.encoder)])
    assert report.root == "encoder" and report.unused == []
    assert sorted(report.restored) == sorted(v.path for v in model.encoder.weights)
    assert report.fresh and all(name.startswith(("predictions/", "seq_relationship/"))
                                for name in report.fresh)
    for expected, got in zip(source.encoder.weights, model.encoder.weights):
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=got.path)
    assert not np.array_equal(model.sop_head.weights[0].numpy(),
                              source.sop_head.weights[0].numpy())
    assert f"{len(report.fresh)} start fresh" in report.summary()


def test_warm_start_errors_name_the_flag_and_the_variable(data, trained, tmp_path):
    _, _, run_dir = trained
    wider = AlbertPretrainer(AlbertConfig.from_preset("tiny", vocab_size=VOCAB, hidden_size=48,
                                                      num_attention_heads=4))
    with pytest.raises(CheckpointMismatchError, match=r"--init_checkpoint: .* has shape "
                                                      r"\[.*32.*\] but the model's .* has shape"):
        warm_start(str(run_dir), wider, [(("model",), wider)])
    with pytest.raises(CheckpointMismatchError, match="--init_checkpoint: no checkpoint at"):
        warm_start(str(tmp_path / "nothing"), wider, [(("model",), wider)])
    with pytest.raises(CheckpointMismatchError, match="holds none of this model's variables"):
        warm_start(str(run_dir), wider, [(("no_such_root",), wider)])


def test_resuming_with_a_different_model_is_a_clear_error(data, trained, tmp_path):
    _, _, run_dir = trained
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    other = dataclasses.replace(data[1], num_hidden_layers=2)
    with pytest.raises(TrainingError, match="holds checkpoints of a different model .*"
                                            "num_hidden_layers: 4 -> 2"):
        run(settings_for(data, copy, albert_config=other), create_strategy("one_device"))


def test_resuming_with_another_optimizer_setup_is_a_clear_error(data, trained, tmp_path):
    _, _, run_dir = trained
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    with pytest.raises(TrainingError, match="cannot resume from .*ckpt-400: it was written by "
                                            "a different model or optimizer"):
        run(settings_for(data, copy, precision="mixed_float16", num_train_steps=500),
            create_strategy("one_device"))


def test_mixed_float16_scales_the_loss_and_resumes(data, tmp_path):
    settings = settings_for(data, tmp_path, precision="mixed_float16", num_train_steps=10,
                            save_checkpoints_steps=10, iterations_per_loop=5, log_steps=5)
    runner = pretraining_loop(settings, create_strategy("one_device"))
    assert isinstance(runner.optimizer, keras.optimizers.LossScaleOptimizer)
    runner.restore()
    values = runner.train()
    assert runner.step == 10 and all(np.isfinite(v) for v in values.values())
    assert all(w.dtype == "float32" for w in runner.model.weights)
    scale = float(runner.optimizer.dynamic_scale.numpy())
    resumed = pretraining_loop(dataclasses.replace(settings, num_train_steps=15),
                             create_strategy("one_device"))
    assert resumed.restore() == 10
    assert float(resumed.optimizer.dynamic_scale.numpy()) == scale  # the scale is checkpointed
    resumed.train()
    assert resumed.step == 15


def test_auto_precision_and_jit_resolve_for_the_device(data, tmp_path, monkeypatch):
    monkeypatch.setattr(distribution, "cpu_has_bfloat16", lambda: True)
    runner = pretraining_loop(settings_for(data, tmp_path, precision="auto"),
                            create_strategy("one_device"))
    assert (runner.precision, runner.jit_compile) == ("mixed_bfloat16", False)
    assert runner.model.dtype_policy.name == "mixed_bfloat16"
    monkeypatch.setattr(distribution, "cpu_has_bfloat16", lambda: False)
    runner = pretraining_loop(settings_for(data, tmp_path / "b", precision="auto",
                                         jit_compile=True), create_strategy("one_device"))
    assert (runner.precision, runner.jit_compile) == ("float32", True)


def test_bad_settings_are_clear_errors(data, tmp_path):
    with pytest.raises(TrainingError, match="--train_batch_size must be at least 1, got 0"):
        run(settings_for(data, tmp_path, train_batch_size=0), create_strategy("one_device"))
    with pytest.raises(TrainingError, match="at least one of --do_train and --do_eval"):
        run(settings_for(data, tmp_path, do_train=False), create_strategy("one_device"))
    with pytest.raises(TrainingError, match="--peak_flops must be positive, got -1"):
        run(settings_for(data, tmp_path, peak_flops=-1.0), create_strategy("one_device"))


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


@pytest.fixture(scope="module")
def straight_run(data, tmp_path_factory):
    """The final weights of `pretrain_command` run without interruption."""
    folder = tmp_path_factory.mktemp("straight")
    # With every native and TensorFlow line (the noise the scripts filter is there).
    straight = subprocess.run(pretrain_command(data, folder), capture_output=True, text=True,
                              timeout=600, env=dict(os.environ, ALBERT_TF_NATIVE_LOGS="1"))
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert "Sharding callback duration" in straight.stderr
    return final_weights(folder)


def signal_after_checkpoint(data, output_dir, signal_number, capture=False):
    """Starts `pretrain_command`, sends `signal_number` once ckpt-20 is written; the
    finished process."""
    process = subprocess.Popen(
        pretrain_command(data, output_dir),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    deadline = time.monotonic() + 300
    while not glob.glob(str(output_dir / "checkpoints" / "ckpt-20.index")):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint at 20"
        time.sleep(0.05)
    process.send_signal(signal_number)
    process.stderr_text = process.communicate(timeout=300)[1]
    return process


def resume_and_compare(data, output_dir, expected):
    resumed = subprocess.run(pretrain_command(data, output_dir), capture_output=True, text=True,
                             timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    got = final_weights(output_dir)
    assert expected.keys() == got.keys() and len(expected) > 50
    # How many saves were made is bookkeeping (a stop adds one), not training state.
    for name in (name for name in expected if not name.startswith("save_counter")):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_sigkill_then_rerun_resumes_to_the_same_weights(data, straight_run, tmp_path):
    killed_dir = tmp_path / "killed"
    signal_after_checkpoint(data, killed_dir, signal.SIGKILL)
    reached = tf.train.latest_checkpoint(str(killed_dir / "checkpoints"))
    assert reached is not None and not reached.endswith("ckpt-60")
    resume_and_compare(data, killed_dir, straight_run)


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM],
                         ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_saves_the_step_reached_in_one_line_and_exits_130(
        data, straight_run, tmp_path, signal_number):
    """Ctrl-C or a scheduler's SIGTERM: a checkpoint at the step reached (not only the last
    scheduled one), one line naming it, status 130; the same command resumes from it to
    the uninterrupted run's weights."""
    stopped_dir = tmp_path / "stopped"
    process = signal_after_checkpoint(data, stopped_dir, signal_number, capture=True)
    name = signal.Signals(signal_number).name
    assert process.returncode == 130, process.stderr_text[-3000:]
    assert "Traceback" not in process.stderr_text
    from albert_tf.quiet_tensorflow import NOISE

    assert not [line for line in process.stderr_text.splitlines() if NOISE.search(line)]
    last = process.stderr_text.strip().splitlines()[-1]
    match = re.fullmatch(rf"run_pretraining: stopped by {name} at step (\d+) of 60; "
                         rf"checkpoint (\S+) saved: rerun the same command to resume", last)
    assert match, last
    step, checkpoint = int(match.group(1)), match.group(2)
    assert 20 <= step < 60 and checkpoint.endswith(f"ckpt-{step}")
    assert tf.train.latest_checkpoint(str(stopped_dir / "checkpoints")) == checkpoint
    resume_and_compare(data, stopped_dir, straight_run)


def test_a_mixed_precision_run_evaluates_in_float32_like_its_export(data, tmp_path):
    """Before: under mixed_bfloat16 (what --precision=auto picks on bfloat16 CPUs) the
    evaluation ran in bfloat16, so its scores (and QA predictions) were not what the
    float32 export computes. Now the same weights evaluated by a float32 run score the
    same; --noeval_in_float32 keeps the training precision (and differs)."""
    common = dict(num_train_steps=4, num_warmup_steps=0, save_checkpoints_steps=4,
                  max_eval_steps=3)
    mixed = run(settings_for(data, tmp_path / "run", do_eval=True,
                             precision="mixed_bfloat16", **common),
                create_strategy("one_device"))["eval"]
    keras.mixed_precision.set_global_policy("float32")
    in_float32 = run(settings_for(data, tmp_path / "run", do_train=False, do_eval=True,
                                  **common), create_strategy("one_device"))["eval"]
    in_bfloat16 = run(settings_for(data, tmp_path / "run", do_train=False, do_eval=True,
                                   precision="mixed_bfloat16", eval_in_float32=False,
                                   **common), create_strategy("one_device"))["eval"]
    keras.mixed_precision.set_global_policy("float32")
    for name in PretrainingTask.logged:
        assert mixed[name] == pytest.approx(in_float32[name], rel=1e-6, abs=1e-7), name
    assert abs(in_bfloat16["mlm_loss"] - in_float32["mlm_loss"]) > 1e-5


def test_progress_values_are_means_over_the_logging_interval(data, tmp_path):
    """Logged at step 4 of a run that logs every 4 steps (two calls of 2 steps): the mean
    of what a run logging every step logs at steps 1-4."""
    from albert_tf.experiments.summaries import read_scalars

    def logged(folder, **overrides):
        run(settings_for(data, tmp_path / folder, num_train_steps=4, num_warmup_steps=0,
                         save_checkpoints_steps=4, **overrides), create_strategy("one_device"))
        return read_scalars(str(tmp_path / folder / "train"))

    every_step = logged("every", log_steps=1, iterations_per_loop=1)
    every_four = logged("four", log_steps=4, iterations_per_loop=2)
    for tag in PretrainingTask.logged:
        assert [step for step, _ in every_step[tag]] == [1, 2, 3, 4]
        assert [step for step, _ in every_four[tag]] == [4]
        assert every_four[tag][0][1] == pytest.approx(
            np.mean([value for _, value in every_step[tag]]), rel=1e-5), tag


def test_lengths_come_from_the_manifests_and_the_run_folder_exports_without_flags(
        data, tmp_path):
    """run_pretraining without --max_seq_length/--max_predictions_per_seq (the records say
    64/10, the defaults are 512/20), then export_model with only the run folder."""
    files, _, config_file = data
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run_dir = tmp_path / "run"
    trained = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_pretraining.py"),
         f"--input_file={','.join(files)}", f"--output_dir={run_dir}",
         f"--albert_config_file={config_file}", "--train_batch_size=8",
         "--num_train_steps=2", "--num_warmup_steps=0", "--save_checkpoints_steps=2",
         "--iterations_per_loop=1", "--log_steps=1", "--strategy=one_device"],
        capture_output=True, text=True, timeout=600, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "record lengths from the records' manifests" in trained.stderr
    # No silent pause at the end (before: 9-14 s without a line on a base model).
    assert "writing the encoder's weights alone for fine-tuning" in trained.stderr
    recorded = json.loads((run_dir / "run_settings.json").read_text())
    assert (recorded["kind"], recorded["settings"]["max_seq_length"],
            recorded["settings"]["max_predictions_per_seq"]) == ("pretraining", SEQ, PREDICTIONS)
    exported = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export_model.py"), f"--init_checkpoint={run_dir}",
         f"--export_dir={tmp_path / 'exports'}"],
        capture_output=True, text=True, timeout=600, env=env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "tracing the signatures and writing version 1" in exported.stderr
    import tensorflow_text  # noqa: F401  (registers the SentencePiece op)

    loaded = tf.saved_model.load(exported.stdout.strip().splitlines()[-1])
    # A pretraining folder exports its encoder, with the raw-text signatures of the
    # SentencePiece model its records were made with.
    assert {"encode", "serving_default"} <= set(loaded.signatures)
    # The records' SentencePiece model (their manifest names it) is copied in.
    assert recorded["settings"]["spm_model_file"] == "assets/spiece.model"
    assert recorded["tokenizer"]["copied_from"] == os.path.join(os.path.dirname(files[0]),
                                                                "spm.model")

    # The guide's evaluation: no config flag (the folder has it), the training record left
    # byte-identical, the results in a file of their own and TensorBoard.
    settings_bytes = (run_dir / "run_settings.json").read_bytes()
    evaluate = [sys.executable, os.path.join(ROOT, "run_pretraining.py"),
                f"--eval_file={files[0]}", f"--output_dir={run_dir}", "--nodo_train",
                "--do_eval", "--eval_batch_size=8", "--max_eval_steps=2",
                "--strategy=one_device"]
    evaluated = subprocess.run(evaluate, capture_output=True, text=True, timeout=600, env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (run_dir / "run_settings.json").read_bytes() == settings_bytes
    results = json.loads((run_dir / "eval_results_data.json").read_text())
    assert (results["step"], results["eval_batches"]) == (2, 2)
    from albert_tf.experiments.summaries import read_scalars

    scalars = read_scalars(str(run_dir / "eval_data"))
    assert scalars["mlm_accuracy"] == [(2, pytest.approx(results["mlm_accuracy"]))]
    # A config flag that differs from the folder's is refused, naming both.
    other = tmp_path / "other_config.json"
    layers = AlbertConfig.from_json_file(config_file).num_hidden_layers
    AlbertConfig.from_json_file(config_file).replace(
        num_hidden_layers=layers + 1).to_json_file(str(other))
    refused = subprocess.run(evaluate + [f"--albert_config_file={other}"],
                             capture_output=True, text=True, timeout=600, env=env)
    assert refused.returncode == 1
    assert (f"run_pretraining: {other} describes another model than the "
            f"{run_dir / 'albert_config.json'} of the run in --output_dir {run_dir} "
            f"(num_hidden_layers: {layers} in the folder vs {layers + 1})") in refused.stderr
    assert (run_dir / "run_settings.json").read_bytes() == settings_bytes

    # One writer per folder: while another process holds it, a trainer is refused at once
    # with the folder and the holder's pid, and changes nothing in it.
    from albert_tf.training.folder_lock import FolderLock

    files_before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from albert_tf.training.folder_lock import FolderLock\n"
         f"lock = FolderLock({str(run_dir)!r}).acquire()\n"
         "print('locked', flush=True)\ntime.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline() == "locked\n"
        second = subprocess.run(pretrain_command(data, run_dir), capture_output=True,
                                text=True, timeout=600, env=env)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 1, second.stderr[-3000:]
    assert (f"run_pretraining: --output_dir {run_dir} is in use by another process (pid "
            f"{holder.pid})") in second.stderr
    assert {path: path.read_bytes() for path in run_dir.rglob("*")
            if path.is_file()} == files_before
    with FolderLock(str(run_dir)):  # the killed holder's lock went with it
        pass

    # Fine-tuning from the pretraining folder needs neither its config nor its tokenizer.
    glue = tmp_path / "glue"
    glue.mkdir()
    rows = "sentence\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in [
        ("a fine day", 1), ("a dull day", 0), ("fine", 1), ("dull", 0)])
    for split in ("train", "dev"):
        (glue / f"{split}.tsv").write_text(rows)
    tuned = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_classifier.py"), "--task_name=SST-2",
         f"--data_dir={glue}", f"--init_checkpoint={run_dir}",
         f"--output_dir={tmp_path / 'tuned'}", "--do_train", "--train_step=1",
         "--train_batch_size=2", f"--max_seq_length={SEQ}", "--strategy=one_device"],
        capture_output=True, text=True, timeout=600, env=env)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    assert ((tmp_path / "tuned" / "albert_config.json").read_text()
            == (run_dir / "albert_config.json").read_text())
    assert ((tmp_path / "tuned" / "assets" / "spiece.model").read_bytes()
            == (run_dir / "assets" / "spiece.model").read_bytes())
    assert (run_dir / "assets" / "spiece.model").read_bytes() == open(
        recorded["tokenizer"]["copied_from"], "rb").read()
    ids = tf.constant([[2, 10, 11, 3]], tf.int32)
    outputs = loaded.signatures["encode"](input_ids=ids, input_mask=tf.ones_like(ids),
                                          segment_ids=tf.zeros_like(ids))
    assert outputs["sequence_output"].shape[1] == 4


# The script's refusals (no input file, a missing config, flags from a --flagfile) are
# cases of the bad-input matrix (tests/test_bad_inputs.py), run in one process.


MIRRORED_SCRIPT = r"""
import json, sys
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from albert_tf.config import AlbertConfig
from albert_tf.training import distribution
from albert_tf.training.distribution import create_strategy
from albert_tf.tasks.pretraining.task import PretrainingSettings, PretrainingTask
from albert_tf.training.loop import TrainingLoop
files, config_file, out, runs = json.loads(sys.argv[1])
results = {}
for name, strategy_name, accumulation in runs:
    keras.utils.set_random_seed(7)
    strategy = create_strategy(strategy_name)
    settings = PretrainingSettings(
        input_files=files, output_dir=out + "/" + name,
        albert_config=AlbertConfig.from_json_file(config_file), max_seq_length=%d,
        max_predictions_per_seq=%d, train_batch_size=16, learning_rate=0.005,
        num_train_steps=6, num_warmup_steps=2, save_checkpoints_steps=6,
        iterations_per_loop=3, log_steps=3, seed=2, gradient_accumulation_steps=accumulation)
    values = TrainingLoop(PretrainingTask(settings), settings, strategy).train()
    results[name] = {"replicas": strategy.num_replicas_in_sync, **values}
print(json.dumps(results))
""" % (SEQ, PREDICTIONS)


def test_mirrored_over_two_cpus_matches_one_device_also_accumulating(data, tmp_path):
    files, _, config_file = data
    values = {}
    # Two processes: a second MirroredStrategy in one process reuses the first one's
    # collective instance keys, and TensorFlow then expects the first graph's shapes.
    for runs in ([("one_device", "one_device", 1), ("mirrored", "mirrored", 1)],
                 [("mirrored_accumulated", "mirrored", 2)]):
        result = subprocess.run(
            [sys.executable, "-c", MIRRORED_SCRIPT,
             json.dumps([files, config_file, str(tmp_path), runs])],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        assert result.returncode == 0, result.stderr[-3000:]
        values.update(json.loads(result.stdout.strip().splitlines()[-1]))
    assert values["one_device"]["replicas"] == 1 and values["mirrored"]["replicas"] == 2
    one = tf.train.load_checkpoint(str(tmp_path / "one_device" / "checkpoints" / "ckpt-6"))
    for run_name in ("mirrored", "mirrored_accumulated"):  # 2 replicas x 2 micro-batches
        for name in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
            assert values[run_name][name] == pytest.approx(values["one_device"][name],
                                                           rel=1e-4, abs=1e-5), name
        two = tf.train.load_checkpoint(str(tmp_path / run_name / "checkpoints" / "ckpt-6"))
        for name in one.get_variable_to_shape_map():
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH":
                np.testing.assert_allclose(two.get_tensor(name), one.get_tensor(name),
                                           rtol=1e-4, atol=1e-5, err_msg=name)


def test_gradient_accumulation_takes_the_big_batchs_update(data, tmp_path):
    """4 micro-batches of 8 give the update one batch of 32 gives (float32, no dropout):
    the MLM mean over all 32 sequences' masked positions, one clipping of the summed
    gradient (the embeddings' sparse rows kept, so the norm is the big batch's), one LAMB
    step; the step counter counts updates."""
    trained = {}
    for steps in (1, 4):
        settings = settings_for(data, tmp_path / f"k{steps}", train_batch_size=32,
                                gradient_accumulation_steps=steps, num_train_steps=3,
                                learning_rate=1e-2,
                                save_checkpoints_steps=3, iterations_per_loop=3, log_steps=3)
        loop = pretraining_loop(settings, create_strategy("one_device"))
        loop.restore()
        values = loop.train()
        assert loop.step == 3
        trained[steps] = values, {v.path: v.numpy() for v in loop.model.weights}
    (big, big_weights), (accumulated, weights) = trained[1], trained[4]
    for name in ("loss", "mlm_loss", "sop_loss", "mlm_accuracy", "sop_accuracy"):
        assert accumulated[name] == pytest.approx(big[name], rel=1e-5, abs=1e-6), name
    for path, value in big_weights.items():
        np.testing.assert_allclose(weights[path], value, rtol=1e-5, atol=1e-5, err_msg=path)
    with pytest.raises(TrainingError, match="must split into --gradient_accumulation_steps=3"):
        run(settings_for(data, tmp_path / "bad", train_batch_size=32,
                         gradient_accumulation_steps=3), create_strategy("one_device"))


def test_recomputed_activations_train_to_the_same_weights(data, tmp_path):
    trained = {}
    for recompute in (False, True):
        settings = settings_for(data, tmp_path / str(recompute), recompute_activations=recompute,
                                num_train_steps=3, save_checkpoints_steps=3,
                                iterations_per_loop=3, log_steps=3)
        loop = pretraining_loop(settings, create_strategy("one_device"))
        loop.restore()
        trained[recompute] = loop.train(), {v.path: v.numpy() for v in loop.model.weights}
    for name in ("loss", "mlm_loss", "sop_loss"):
        assert trained[True][0][name] == pytest.approx(trained[False][0][name], rel=1e-6), name
    for path, value in trained[False][1].items():
        np.testing.assert_allclose(trained[True][1][path], value, rtol=1e-5, atol=1e-6,
                                   err_msg=path)
    config = data[1]
    with pytest.raises(TrainingError, match="--recompute_activations needs hidden_dropout_prob"):
        run(settings_for(data, tmp_path / "dropout", recompute_activations=True,
                         albert_config=dataclasses.replace(config, hidden_dropout_prob=0.1)),
            create_strategy("one_device"))


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


def test_a_damaged_checkpoint_is_skipped_and_a_finished_run_completes_its_outputs(
        data, tmp_path, caplog):
    """Before: a damaged latest checkpoint was reported as 'written by a different model'
    and the intact one before it ignored; a kill after the last checkpoint meant encoder/
    was never written."""
    settings = settings_for(data, tmp_path, num_train_steps=4, save_checkpoints_steps=2,
                            iterations_per_loop=2, log_steps=2, keep_checkpoint_max=3)
    strategy = create_strategy("one_device")
    run(settings, strategy)
    encoder = tmp_path / "encoder"
    shutil.rmtree(encoder)  # killed after the final checkpoint, before the encoder
    assert run(settings, strategy)["train"] == {}
    assert (encoder / "encoder.index").exists()
    def weights_at_step_4():
        reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints" / "ckpt-4"))
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
                if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}

    second = weights_at_step_4()

    checkpoints = tmp_path / "checkpoints"
    damaged = checkpoints / "ckpt-4.data-00000-of-00001"
    with open(damaged, "r+b") as handle:
        handle.truncate(os.path.getsize(damaged) // 3)
    (checkpoints / "ckpt-6_temp").mkdir()  # what a save killed half-way leaves
    runner = pretraining_loop(settings, strategy)
    with caplog.at_level("WARNING"):
        assert runner.restore() == 2
    assert "ckpt-4" in caplog.text and "is damaged; skipped" in caplog.text
    assert not (checkpoints / "ckpt-6_temp").exists()
    run(settings, strategy)  # retrains steps 3-4 over the damaged checkpoint
    for name, value in weights_at_step_4().items():
        np.testing.assert_allclose(value, second[name], rtol=1e-5, atol=1e-6, err_msg=name)

    for path in checkpoints.glob("ckpt-*.data-*"):
        with open(path, "r+b") as handle:
            handle.truncate(10)
    with pytest.raises(TrainingError, match="every checkpoint in .* is damaged"):
        pretraining_loop(settings, strategy).restore()


MULTI_WORKER_SCRIPT = r"""
import json, os, sys
import numpy as np
from albert_tf.training import distribution
from albert_tf.training.distribution import create_strategy
strategy = create_strategy("multi_worker")
from albert_tf.config import AlbertConfig
from albert_tf.tasks.pretraining.task import PretrainingSettings, PretrainingTask
from albert_tf.training.loop import TrainingLoop
files, config_file, out, index = json.loads(sys.argv[1])
settings = PretrainingSettings(
    input_files=files, output_dir=out, albert_config=AlbertConfig.from_json_file(config_file),
    max_seq_length=%d, max_predictions_per_seq=%d, train_batch_size=16, learning_rate=0.005,
    num_train_steps=6, num_warmup_steps=2, save_checkpoints_steps=3, iterations_per_loop=3,
    log_steps=3, seed=2)
runner = TrainingLoop(PretrainingTask(settings), settings, strategy)
runner.restore()
values = runner.train()
np.savez(os.path.join(out, "worker%%d.npz" %% index),
         **{str(i): w.numpy() for i, w in enumerate(runner.model.weights)})
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "step": runner.step, **values}))
""" % (SEQ, PREDICTIONS)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_with_two_local_workers(data, tmp_path):
    files, _, config_file = data
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen(
            [sys.executable, "-c", MULTI_WORKER_SCRIPT,
             json.dumps([files, config_file, str(tmp_path), index])],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env=dict(os.environ, TF_CONFIG=tf_config, TF_CPP_MIN_LOG_LEVEL="2")))
    outputs = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=400)
        finally:
            for other in workers:
                if other.poll() is None and worker.returncode is None:
                    other.kill()
        assert worker.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert [o["replicas"] for o in outputs] == [2, 2] and [o["step"] for o in outputs] == [6, 6]
    assert outputs[0]["loss"] == pytest.approx(outputs[1]["loss"], rel=1e-6)
    chief, other = np.load(tmp_path / "worker0.npz"), np.load(tmp_path / "worker1.npz")
    assert len(chief.files) > 20
    for name in chief.files:
        np.testing.assert_array_equal(other[name], chief[name], err_msg=name)
    # Only the chief keeps checkpoints; the other worker's scratch copies are gone.
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-6")
    assert not glob.glob(str(tmp_path / "scratch" / "*" / "ckpt-*"))
    assert (tmp_path / "encoder" / "encoder.index").exists()

