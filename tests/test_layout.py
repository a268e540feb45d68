import os

import pytest

from albert_tf.checkpoints.layout import RunFolderError, RunLayout
from albert_tf.io_utils import file_sha256


def test_paths_and_record_round_trip(tmp_path):
    layout = RunLayout(str(tmp_path))
    assert layout.checkpoint_dir == str(tmp_path / "checkpoints")
    assert layout.scratch_dir("worker", 1) == str(tmp_path / "scratch" / "worker_1")
    assert layout.assets_dir == str(tmp_path / "assets")
    assert layout.read_record() is None and layout.read_legacy_identity() is None
    layout.write_record({"kind": "classification", "settings": {"max_seq_length": 128}})
    recorded = layout.read_record()
    assert recorded == {"format": 2, "kind": "classification",
                        "settings": {"max_seq_length": 128}}
    assert [p.name for p in tmp_path.iterdir()] == ["run_settings.json"]  # no temp left


@pytest.mark.parametrize("text, message", [('{"kind": ', "unreadable"),
                                           ("[1, 2]", "expected a JSON object, not list")])
def test_damaged_run_files_are_named(tmp_path, text, message):
    (tmp_path / "run_settings.json").write_text(text)
    with pytest.raises(RunFolderError, match=f"run_settings.json: {message}"):
        RunLayout(str(tmp_path)).read_record()


def test_paths_resolve_only_inside_the_folder(tmp_path):
    run = tmp_path / "run"
    (run / "assets").mkdir(parents=True)
    (run / "assets" / "spiece.model").write_bytes(b"x")
    (tmp_path / "outside.model").write_bytes(b"y")
    layout = RunLayout(str(run))
    assert layout.resolve_inside("assets/spiece.model", "spm_model_file") == str(
        run / "assets" / "spiece.model")
    for recorded, why in (("../outside.model", "leads outside"),
                          ("assets/../../outside.model", "leads outside"),
                          (str(tmp_path / "outside.model"), "is not a path inside"),
                          ("", "is not a path inside")):
        with pytest.raises(RunFolderError, match=f"spm_model_file '?.*'? {why}"):
            layout.resolve_inside(recorded, "spm_model_file")
    # A symbolic link inside the folder that leads out of it is refused too.
    os.symlink(tmp_path / "outside.model", run / "assets" / "link.model")
    with pytest.raises(RunFolderError, match="leads outside the run folder"):
        layout.resolve_inside("assets/link.model", "spm_model_file")


def test_the_tokenizer_is_copied_in_once(tmp_path):
    source = tmp_path / "vocab.txt"
    source.write_text("[PAD]\n[UNK]\n")
    layout = RunLayout(str(tmp_path / "run"))
    sha = file_sha256(str(source))
    assert layout.store_tokenizer(str(source), "vocab_file", sha) == "assets/vocab.txt"
    copy = tmp_path / "run" / "assets" / "vocab.txt"
    assert copy.read_text() == source.read_text()
    before = copy.stat().st_mtime_ns
    layout.store_tokenizer(str(source), "vocab_file", sha)  # the same file: kept
    assert copy.stat().st_mtime_ns == before
    source.write_text("[PAD]\n[UNK]\n[CLS]\n")  # another file replaces the copy
    layout.store_tokenizer(str(source), "vocab_file", file_sha256(str(source)))
    assert copy.read_text().count("\n") == 3
    with pytest.raises(RunFolderError, match="changed while it was copied"):
        layout.store_tokenizer(str(source), "vocab_file", sha)  # not the file hashed
    assert copy.read_text().count("\n") == 3  # the copy is untouched, no temp file left
    assert sorted(os.listdir(copy.parent)) == ["vocab.txt"]
