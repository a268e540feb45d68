"""The ablation runner: the grid, its settings errors, stages that depend on named stages
only, and a two-cell grid (SOP and NSP) run end to end twice (the second run reuses every
finished cell)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from albert_tf.config import AlbertConfig
from albert_tf.experiments.ablation import AblationSettings, Cell, grid_cells
from albert_tf.experiments.ablation_report import transition_oscillation
from albert_tf.experiments.staged_run import Stage, StagedRun
from tests.helpers import ROOT, parameter_formula
from tests.records import read_records
from tests.text_corpus import write_corpus


def test_one_at_a_time_varies_each_axis_around_the_base_and_full_crosses_them():
    settings = AblationSettings(embedding_sizes=(128, 64), sharing=("all", "none"),
                                objectives=("sop", "nsp"), dropout=(0.0, 0.1))
    cells = grid_cells(settings)
    assert cells == [Cell(128, "all", "sop", 0.0), Cell(64, "all", "sop", 0.0),
                     Cell(128, "none", "sop", 0.0), Cell(128, "all", "nsp", 0.0),
                     Cell(128, "all", "sop", 0.1)]
    full = grid_cells(AblationSettings(**{**vars(settings), "design": "full"}))
    assert len(full) == 16 and len(set(full)) == 16 and full[0] == cells[0]
    assert cells[-1].name == "E128-all-sop-drop0.1"
    config = cells[2].config(settings, vocab_size=100)
    assert (config.sharing, config.embedding_size, config.hidden_dropout_prob) == (
        "none", 128, 0.0)
    assert cells[-1].config(settings, 100).attention_probs_dropout_prob == 0.1


@pytest.mark.parametrize("changes, message", [
    ({"sharing": ("all", "everything")}, "--sharing: unknown ['everything']"),
    ({"objectives": ("mlm",)}, "--objectives: unknown ['mlm']; expected some of sop, nsp"),
    ({"embedding_sizes": ()}, "--embedding_sizes needs at least one value"),
    ({"embedding_sizes": (64, 64)}, "--embedding_sizes lists a value twice"),
    ({"dropout": (1.0,)}, "--dropout rates must be in [0, 1), got [1.0]"),
    ({"design": "random"}, "--design must be one of one_at_a_time, full"),
    ({"train_steps": 0}, "--train_steps must be at least 1, got 0"),
    ({"hidden_size": 30, "num_attention_heads": 4}, "--hidden_size=30 must be a multiple"),
    ({"corpus": "/nonexistent.txt"}, "--corpus /nonexistent.txt: no such file"),
    ({"finetune_task": "sst-2"}, "--finetune_task=sst-2 needs --finetune_data_dir"),
    ({"finetune_task": "no-such-task"}, "no-such-task"),
])
def test_settings_errors_name_the_flag(tmp_path, changes, message):
    settings = AblationSettings(run_dir=str(tmp_path), **changes)
    with pytest.raises(ValueError) as error:
        settings.validate()
    assert message in str(error.value)


def test_a_grid_value_of_the_wrong_type_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "run_ablation.py"),
                             f"--run_dir={tmp_path}/run", "--embedding_sizes=128,abc"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    assert "run_ablation: --embedding_sizes: expected int values, got ['128', 'abc']" in \
        result.stderr
    assert not (tmp_path / "run").exists()


class Grid(StagedRun):
    """A data stage and two independent cells, each evaluated; `fail` interrupts one."""

    def __init__(self, run_dir, params, fail=None):
        self.params, self.fail, self.ran = params, fail, []
        super().__init__(run_dir)

    def stages(self):
        def stage(name, after):
            return Stage(name, name, [name.replace("/", "_")], {"value": self.params[name]},
                         lambda: self._act(name), after=after)
        return [stage("data", None), stage("cell/a", ["data"]), stage("cell/b", ["data"]),
                stage("eval/a", ["cell/a"]), stage("eval/b", ["cell/b"])]

    def _act(self, name):
        self.ran.append(name)
        with open(self.path(name.replace("/", "_")), "a") as handle:
            handle.write("x")
        if name == self.fail:
            raise KeyboardInterrupt


def test_stages_depend_only_on_the_stages_they_name(tmp_path):
    params = {"data": 1, "cell/a": 1, "cell/b": 1, "eval/a": 1, "eval/b": 1}
    first = Grid(str(tmp_path), params)
    first.run()
    assert first.ran == list(params)
    changed = Grid(str(tmp_path), dict(params, **{"cell/b": 2}))
    changed.run()
    assert changed.ran == ["cell/b", "eval/b"]  # cell a and its evaluation are reused
    params["cell/b"] = 2
    with pytest.raises(KeyboardInterrupt):
        Grid(str(tmp_path), dict(params, **{"cell/a": 3}), fail="cell/a").run()
    resumed = Grid(str(tmp_path), dict(params, **{"cell/a": 3}))
    resumed.run()
    assert resumed.ran == ["cell/a", "eval/a"]
    assert (tmp_path / "cell_a").read_text() == "xx"  # resumed, not started afresh
    upstream = Grid(str(tmp_path), dict(params, data=2, **{"cell/a": 3}))
    upstream.run()
    assert upstream.ran == list(params)  # new data: every cell starts afresh
    assert (tmp_path / "cell_a").read_text() == "x"
    with pytest.raises(ValueError, match="stage late depends on .'later'., which do not run"):
        class Misordered(StagedRun):
            def stages(self):
                return [Stage("late", "", [], {}, lambda: None, after=["later"]),
                        Stage("later", "", [], {}, lambda: None)]
        Misordered(str(tmp_path / "other")).run()


def test_verdicts_weigh_differences_against_the_noise_of_the_held_out_sample():
    from albert_tf.experiments.ablation_report import _direction, noise_margin

    assert noise_margin(0.5, 400) == pytest.approx(0.05)
    assert _direction(0.08, 0.05, 1) == "same direction"
    assert _direction(-0.08, 0.05, 1) == "opposite direction"
    assert _direction(0.03, 0.05, 1) == "within noise (±0.050)"
    assert _direction(0.03, 0.05, 0) == "same direction"


def test_oscillation_is_the_mean_layer_to_layer_change_after_the_first_layer():
    layers = [{"l2": 9.0}, {"l2": 1.0}, {"l2": 2.0}, {"l2": 1.5}]
    assert transition_oscillation(layers, "l2") == pytest.approx((1.0 + 0.5) / 2)


GRID_FLAGS = ["--embedding_sizes=16", "--sharing=all", "--objectives=sop,nsp",
              "--dropout=0", "--hidden_size=32", "--num_hidden_layers=3",
              "--num_attention_heads=2", "--intermediate_size=64", "--vocab_size=400",
              "--max_seq_length=32", "--dupe_factor=1", "--train_steps=6", "--batch_size=8",
              "--eval_batches=3", "--finetune_steps=4", "--finetune_batch_size=8",
              "--transition_sequences=16", "--seed=3"]


def run_grid(run_dir, corpus):
    return subprocess.run([sys.executable, os.path.join(ROOT, "run_ablation.py"),
                           f"--run_dir={run_dir}", f"--corpus={corpus}", *GRID_FLAGS],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ablation")
    corpus = write_corpus(folder / "corpus.txt", 40, seed=6, titled=True)
    result = run_grid(folder / "run", corpus)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run", corpus


def test_every_cell_is_an_ordinary_run_evaluated_both_ways(grid):
    run_dir, _ = grid
    numbers = json.loads((run_dir / "ablation.json").read_text())
    cells = {cell["name"]: cell for cell in numbers["cells"]}
    assert list(cells) == ["E16-all-sop-drop0", "E16-all-nsp-drop0"]
    for name, cell in cells.items():
        folder = run_dir / "cells" / name
        config = AlbertConfig.from_json_file(str(folder / "albert_config.json"))
        formula = parameter_formula(config)
        assert cell["encoder_parameters"] == sum(
            formula[part] for part in ("embedding", "projection", "transformer", "pooler"))
        # Each held-out set's evaluation has its own results file in the pretraining folder.
        sop = json.loads((folder / "pretrain" / "eval_results_heldout_sop.json").read_text())
        nsp = json.loads((folder / "pretrain" / "eval_results_heldout_nsp.json").read_text())
        assert sop["step"] == nsp["step"] == cell["final_step"] == 6
        assert cell["mlm_accuracy"] == sop["mlm_accuracy"]
        assert (cell["sop_accuracy"], cell["nsp_accuracy"]) == (sop["sop_accuracy"],
                                                               nsp["sop_accuracy"])
        best = json.loads((folder / "finetune" / "eval_results.json").read_text())["best"]
        assert cell["dev_best"] == best["accuracy"]
        stages = json.loads((run_dir / "stages.json").read_text())
        [command] = stages[f"pretrain/{name}"]["commands"]
        assert command.startswith("python run_pretraining.py --input_file=")
        assert f"/data/{cell['objective']}/train.tfrecord " in command
        evaluations = stages[f"evaluate/{name}"]["commands"]
        assert ["/data/sop/heldout.tfrecord" in evaluations[0],
                "/data/nsp/heldout.tfrecord" in evaluations[1]] == [True, True]
        # The evaluations use the same run folder and leave its training record as it was
        # (before: the last evaluation overwrote it with do_train false).
        record = json.loads((folder / "pretrain" / "run_settings.json").read_text())
        assert (record["kind"], record["settings"]["do_train"],
                record["settings"]["input_files"]) == (
            "pretraining", True, [str(run_dir / "data" / cell["objective"] / "train.tfrecord")])
    for objective in ("sop", "nsp"):
        records = read_records([str(run_dir / "data" / objective / "heldout.tfrecord")])[:24]
        share = np.mean([row["next_sentence_labels"][0] == 0 for row in records])
        assert cells["E16-all-sop-drop0"][f"{objective}_majority"] == pytest.approx(
            max(share, 1 - share))
        if objective == "sop":  # the MLM accuracy's positions
            assert cells["E16-all-sop-drop0"]["mlm_eval_positions"] == sum(
                row["masked_lm_weights"].sum() for row in records)
    manifests = [json.loads((run_dir / "data" / objective / "heldout.manifest.json")
                            .read_text()) for objective in ("sop", "nsp")]
    assert manifests[0]["input_files"] == manifests[1]["input_files"]  # same documents
    assert [m["options"]["random_next_sentence"] for m in manifests] == [False, True]


def test_the_report_has_the_table_findings_and_plots(grid):
    run_dir, _ = grid
    report = (run_dir / "ablation.md").read_text()
    numbers = json.loads((run_dir / "ablation.json").read_text())
    for cell in numbers["cells"]:
        assert (f"| {cell['name']} | 16 | all | {cell['objective'].upper()} | 0 | "
                f"{cell['encoder_parameters']:,} | {cell['mlm_accuracy']:.3f} | "
                f"{cell['sop_accuracy']:.3f} | {cell['nsp_accuracy']:.3f} | "
                f"{cell['dev_best']:.3f} |") in report
    papers = [finding["paper"] for finding in numbers["findings"]]
    assert sum(paper.startswith("Table 5") for paper in papers) == 4
    assert numbers["contrasts"][0]["change"] == "objective sop -> nsp"
    transitions = numbers["transitions"]
    assert sorted(transitions) == sorted(cell["name"] for cell in numbers["cells"])
    assert all(len(model["layers"]) == 3 for model in transitions.values())
    for plot in ("learning_curves.png", "layer_transitions.png"):
        assert (run_dir / "plots" / plot).read_bytes().startswith(b"\x89PNG")
    assert "python run_pretraining.py" in report and "--random_next_sentence" in report


def test_a_rerun_reuses_every_finished_cell(grid):
    run_dir, corpus = grid
    checkpoints = sorted((run_dir / "cells").glob("*/pretrain/checkpoints/*.index"))
    before = {path: path.stat().st_mtime_ns for path in checkpoints}
    result = run_grid(run_dir, corpus)
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.loads((run_dir / "stages.json").read_text())
    assert [name for name, record in records.items() if not record["reused"]] == ["report"]
    assert {path: path.stat().st_mtime_ns for path in checkpoints} == before
    assert "pretrain/E16-all-nsp-drop0: reused" in result.stderr


def test_analyze_model_reads_config_and_tokenizer_from_run_folders(grid, tmp_path):
    run_dir, _ = grid
    cell = run_dir / "cells" / "E16-all-sop-drop0"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "analyze_model.py"),
         f"--init_checkpoint={cell / 'pretrain'},{cell / 'finetune'}",
         f"--input_file={run_dir / 'corpus' / 'heldout.txt'}", "--max_seq_length=32",
         "--max_sequences=16", f"--output_dir={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    models = json.loads((tmp_path / "layer_transitions.json").read_text())["models"]
    assert list(models) == ["pretrain", "finetune"]
    grid_numbers = json.loads((run_dir / "transitions" / "layer_transitions.json")
                              .read_text())["models"]["E16-all-sop-drop0"]
    def numbers(model):
        return [value for row in model["layers"] for value in row.values()]

    assert numbers(models["pretrain"]) == pytest.approx(numbers(grid_numbers), rel=1e-6)
    assert models["finetune"]["tokens"] == grid_numbers["tokens"]
    assert len(numbers(models["finetune"])) == len(numbers(grid_numbers))
    best = cell / "finetune" / "best" / "model"
    assert f"warm start from {best} (root 'model/encoder')" in result.stderr


CHILD = """
import os, signal, sys, time
def stop(number, frame):
    print(f"child stopping on {signal.Signals(number).name}", flush=True)
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
print(f"child {os.getpid()}", flush=True)
time.sleep(300)
"""

ORCHESTRATOR = """
import sys
from albert_tf.cli.script import exit_on_user_error
from albert_tf.experiments.staged_run import Stage, StagedRun

class Orchestrator(StagedRun):
    def stages(self):
        return [Stage("work", "a long stage", ["out"], {}, lambda: self.script("child"))]

    def script_file(self, module):
        return sys.argv[2]

with exit_on_user_error("orchestrator"):
    Orchestrator(sys.argv[1]).run()
"""


def start_orchestrator(tmp_path):
    """(the orchestrator process, its running child's pid)."""
    (tmp_path / "child.py").write_text(CHILD)
    process = subprocess.Popen([sys.executable, "-c", ORCHESTRATOR, str(tmp_path / "run"),
                                str(tmp_path / "child.py")], stderr=subprocess.PIPE,
                               text=True, cwd=ROOT)
    for line in process.stderr:
        if line.startswith("[work] child "):
            return process, int(line.split()[-1])
    raise AssertionError(f"the stage never started: {process.wait()}")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")
def test_a_killed_orchestrator_leaves_no_child_running(tmp_path):
    """Before: kill -9 of run_ablation / run_demo left the stage's run_pretraining
    training on as an orphan."""
    process, child = start_orchestrator(tmp_path)
    assert alive(child)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 20
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), f"child {child} outlived its orchestrator"


def test_a_stop_signal_to_the_orchestrator_stops_its_stage_and_says_how_to_resume(tmp_path):
    process, child = start_orchestrator(tmp_path)
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait() == 130, rest
    assert "[work] child stopping on SIGINT" in rest  # passed on once
    assert rest.strip().splitlines()[-1].startswith(
        "orchestrator: stopped by SIGINT in stage work (`child` ended with status 130; its "
        f"output is in {tmp_path / 'run' / 'logs' / 'work.log'}); rerun the same command to "
        "resume")
    assert not alive(child)
