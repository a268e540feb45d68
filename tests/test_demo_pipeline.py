"""The demo's stage bookkeeping (reuse, changed settings, --force, crash) with stand-in
stages, and its settings errors."""

import json
import os

import pytest

from albert_tf.config import ConfigError
from albert_tf.demo.pipeline import DemoError, DemoPipeline, DemoSettings, Stage


class ScriptedPipeline(DemoPipeline):
    """Three stages writing one file each; `params` and `fail` steer them."""

    def __init__(self, settings, params, fail=None):
        self.params, self.fail, self.ran = params, fail, []
        super().__init__(settings)

    def stages(self):
        return [Stage(name, name, [f"{name}.txt"], {"value": self.params[name]},
                      self._action(name)) for name in ("first", "second", "third")]

    def _action(self, name):
        def action():
            self.ran.append(name)
            existing = self.path(f"{name}.txt")
            count = open(existing).read() if os.path.exists(existing) else ""
            with open(existing, "w") as handle:  # counts runs since the outputs were reset
                handle.write(count + "x")
            if name == self.fail:
                raise KeyboardInterrupt
        return action


def run(tmp_path, params, fail=None, force=False):
    pipeline = ScriptedPipeline(DemoSettings(run_dir=str(tmp_path), force=force), params, fail)
    pipeline.run()
    return pipeline


def test_reuse_rerun_downstream_force_and_resume(tmp_path):
    params = {"first": 1, "second": 1, "third": 1}
    assert run(tmp_path, params).ran == ["first", "second", "third"]
    again = run(tmp_path, params)
    assert again.ran == [] and all(r.reused for r in again.records.values())

    changed = run(tmp_path, dict(params, second=2))  # the change and what follows it
    assert changed.ran == ["second", "third"]
    assert open(tmp_path / "second.txt").read() == "x"  # outputs reset before the re-run

    os.remove(tmp_path / "third.txt")  # a missing output is not current
    assert run(tmp_path, dict(params, second=2)).ran == ["third"]
    os.remove(tmp_path / "first.txt")  # new inputs: what follows starts afresh too
    assert run(tmp_path, dict(params, second=2)).ran == ["first", "second", "third"]
    assert open(tmp_path / "third.txt").read() == "x"

    assert run(tmp_path, dict(params, second=2), force=True).ran == ["first", "second", "third"]
    assert open(tmp_path / "first.txt").read() == "x"

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, dict(params, third=5), fail="third")
    records = json.loads((tmp_path / "stages.json").read_text())
    assert records["second"]["finished"] and not records["third"]["finished"]
    resumed = run(tmp_path, dict(params, third=5))
    assert resumed.ran == ["third"]
    # An interrupted stage keeps its outputs so that it can resume (checkpoints).
    assert open(tmp_path / "third.txt").read() == "xx"


def test_a_failing_script_stops_the_demo_naming_the_stage_and_its_log(tmp_path):
    class FailingPipeline(DemoPipeline):
        def stages(self):
            return [Stage("broken", "a script that fails", ["broken"], {},
                          lambda: self.script("no_such_albert_script", flag=1)),
                    Stage("after", "never reached", ["after"], {}, pytest.fail)]

    pipeline = FailingPipeline(DemoSettings(run_dir=str(tmp_path)))
    log = tmp_path / "logs" / "broken.log"
    with pytest.raises(DemoError, match=f"stage broken: `no_such_albert_script` exited with "
                                        f"status 2; its output is in {log}"):
        pipeline.run()
    assert "no_such_albert_script.py': [Errno 2] No such file" in log.read_text()
    records = json.loads((tmp_path / "stages.json").read_text())
    assert list(records) == ["broken"] and not records["broken"]["finished"]
    assert records["broken"]["commands"] == ["python no_such_albert_script.py --flag=1"]


def test_unreadable_stage_records_rerun_everything(tmp_path):
    params = {"first": 1, "second": 1, "third": 1}
    run(tmp_path, params)
    (tmp_path / "stages.json").write_text("{not json")
    assert run(tmp_path, params).ran == ["first", "second", "third"]


@pytest.mark.parametrize("changes, error, message", [
    ({"model_size": "huge"}, ConfigError, "huge"),
    ({"pretrain_steps": 0}, ValueError, "--pretrain_steps must be at least 1, got 0"),
    ({"max_seq_length": 8}, ValueError, "--max_seq_length must be at least 16, got 8"),
    ({"corpus": "/nonexistent/corpus.txt"}, ValueError,
     "--corpus /nonexistent/corpus.txt: no such file"),
])
def test_bad_settings_are_named(tmp_path, changes, error, message):
    with pytest.raises(error, match=message):
        DemoPipeline(DemoSettings(run_dir=str(tmp_path), **changes))


def test_an_edited_corpus_is_read_again(tmp_path):
    corpus = tmp_path / "mine.txt"
    corpus.write_text("One.\nTwo.\n")
    settings = DemoSettings(run_dir=str(tmp_path / "run"), corpus=str(corpus))
    before = DemoPipeline(settings).stages()[0].params
    corpus.write_text("One.\nTwo.\n\nThree.\nFour.\n")
    after = DemoPipeline(settings).stages()[0].params
    assert before != after
    bundled = DemoPipeline(DemoSettings(run_dir=str(tmp_path / "run"))).stages()[0].params
    assert bundled["corpus"][0] == "cpython-docs"
