import dataclasses

import pytest

from albert_tf.checkpoints.layout import RunFolderError, RunLayout
from albert_tf.data.glue import get_task


@dataclasses.dataclass(frozen=True)
class Settings:
    output_dir: str
    albert_config: object
    task: object
    max_seq_length: int = 128


def test_paths_and_settings_round_trip(tmp_path):
    layout = RunLayout(str(tmp_path))
    assert layout.checkpoint_dir == str(tmp_path / "checkpoints")
    assert layout.scratch_dir("worker", 1) == str(tmp_path / "scratch" / "worker_1")
    assert layout.read_settings() is None and layout.read_run_identity() is None
    layout.write_settings("fine_tuning", Settings(str(tmp_path), object(), get_task("MRPC")))
    recorded = layout.read_settings()
    assert recorded["kind"] == "fine_tuning" and "albert_config" not in recorded
    assert recorded["task"]["name"] == "MRPC" and recorded["task"]["labels"] == ["0", "1"]
    assert recorded["max_seq_length"] == 128
    assert [p.name for p in tmp_path.iterdir()] == ["run_settings.json"]  # no temp left


@pytest.mark.parametrize("text, message", [('{"kind": ', "unreadable"),
                                           ("[1, 2]", "expected a JSON object, not list")])
def test_damaged_run_files_are_named(tmp_path, text, message):
    (tmp_path / "run_settings.json").write_text(text)
    with pytest.raises(RunFolderError, match=f"run_settings.json: {message}"):
        RunLayout(str(tmp_path)).read_settings()
