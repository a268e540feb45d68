"""run_glue.sh: the paper's per-task settings reach run_classifier.py, and a run works."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import tensorflow as tf

from albert_tf.config import AlbertConfig
from albert_tf.data.sentencepiece_tokenizer import train_sentencepiece
from albert_tf.models import AlbertPretrainer
from tests.helpers import GLUE_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_glue.sh")
# ALBERT paper, appendix table of fine-tuning hyper-parameters: lr, batch, steps, warmup.
PAPER = {"CoLA": ("1e-5", 16, 5336, 320), "STS-B": ("2e-5", 16, 3598, 214),
         "SST-2": ("1e-5", 32, 20935, 1256), "MNLI": ("3e-5", 128, 10000, 1000),
         "QNLI": ("1e-5", 32, 33112, 1986), "QQP": ("5e-5", 128, 14000, 1000),
         "RTE": ("3e-5", 32, 800, 200), "MRPC": ("2e-5", 32, 800, 200),
         "WNLI": ("2e-5", 16, 2000, 250)}


def run_script(env, *args, cwd=None):
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **env}, cwd=cwd)


def test_every_task_gets_the_paper_settings(tmp_path):
    # Run from another folder: relative paths stay the caller's (before, the script changed
    # into the repository and runs landed there).
    result = run_script({"GLUE_DIR": "g", "INIT": "ckpt", "SPM": "m.model", "DRY_RUN": "1"},
                        "--precision=float32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert len(commands) == len(PAPER)
    for command in commands:
        assert command[1] == os.path.join(ROOT, "run_classifier.py")
        flags = dict(arg[2:].split("=", 1) for arg in command[2:] if "=" in arg)
        lr, batch, steps, warmup = PAPER[flags["task_name"]]
        assert (flags["learning_rate"], flags["train_batch_size"], flags["train_step"],
                flags["warmup_step"]) == (lr, str(batch), str(steps), str(warmup))
        assert flags["data_dir"] == f"g/{flags['task_name']}"
        assert flags["albert_config_file"] == "ckpt/albert_config.json"
        assert command[-1] == "--precision=float32" and "--do_predict" in command


def test_unknown_task_and_missing_settings_are_errors(tmp_path):
    result = run_script({"GLUE_DIR": "g", "INIT": "c", "SPM": "s", "TASKS": "SST2"},
                        cwd=tmp_path)
    assert result.returncode == 2 and "unknown task 'SST2'" in result.stderr
    result = run_script({"GLUE_DIR": "", "INIT": "c", "SPM": "s"}, cwd=tmp_path)
    assert result.returncode != 0 and "set GLUE_DIR" in result.stderr
    result = run_script({"GLUE_DIR": "g", "INIT": "c", "SPM": ""}, cwd=tmp_path)
    assert result.returncode != 0 and "set SPM" in result.stderr
    assert os.listdir(tmp_path) == []  # nothing started, nothing written


def test_a_short_rte_run_trains_evaluates_and_predicts(tmp_path):
    if not os.path.exists(os.path.join(GLUE_DIR, "RTE", "train.tsv")):
        pytest.skip("RTE not present in ../shared/data/glue")
    corpus = tmp_path / "corpus.txt"
    with open(os.path.join(GLUE_DIR, "RTE", "train.tsv"), encoding="utf-8") as handle:
        corpus.write_text(handle.read(), encoding="utf-8")
    spm_model = train_sentencepiece([str(corpus)], str(tmp_path / "spm"), vocab_size=1000)
    config = AlbertConfig.from_preset("tiny", vocab_size=1000)
    init = tmp_path / "pretrained"
    tf.train.Checkpoint(model=AlbertPretrainer(config)).write(str(init / "ckpt"))
    config.to_json_file(str(init / "albert_config.json"))
    result = run_script({"GLUE_DIR": GLUE_DIR, "INIT": str(init / "ckpt"), "SPM": spm_model,
                         "CONFIG": str(init / "albert_config.json"), "TASKS": "RTE",
                         "OUTPUT": str(tmp_path / "glue"), "PYTHON": sys.executable},
                        "--train_step=4", "--warmup_step=1", "--max_seq_length=32",
                        "--save_checkpoints_steps=2", "--eval_batch_size=64",
                        "--predict_batch_size=64", "--train_batch_size=8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "== RTE: lr 3e-5, batch 32, 800 steps (200 warmup)" in result.stdout
    report = json.loads((tmp_path / "glue" / "RTE" / "eval_results.json").read_text())
    assert [e["step"] for e in report["evaluations"]] == [2, 4]
    assert report["best"]["examples"] == 277
    lines = (tmp_path / "glue" / "RTE" / "RTE.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 3001
    assert {line.split("\t")[1] for line in lines[1:]} <= {"entailment", "not_entailment"}
