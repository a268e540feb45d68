import pytest

from albert_tf.data.files import InputFileError, expand_file_patterns


def test_comma_separated_globs_expand_sorted_without_duplicates(tmp_path):
    for name in ("b.txt", "a.txt", "c.md"):
        (tmp_path / name).write_text("x")
    files = expand_file_patterns(f"{tmp_path}/*.txt, {tmp_path}/a.txt,{tmp_path}/c.md")
    assert files == [str(tmp_path / n) for n in ("a.txt", "b.txt", "c.md")]


@pytest.mark.parametrize("value", ["", " , ", None])
def test_empty_value_names_the_flag(value):
    with pytest.raises(InputFileError, match="--spm_input: no input file given"):
        expand_file_patterns(value, flag_name="spm_input")


def test_one_unmatched_pattern_among_several_is_reported(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"pattern '.*typo\*\.txt' matches no file"):
        expand_file_patterns(f"{tmp_path}/a.txt,{tmp_path}/typo*.txt")


def test_patterns_with_a_scheme_go_through_tf_gfile(tmp_path):
    for name in ("b.tfrecord", "a.tfrecord"):
        (tmp_path / name).write_text("x")
    assert expand_file_patterns(f"file://{tmp_path}/*.tfrecord") == [
        f"file://{tmp_path}/a.tfrecord", f"file://{tmp_path}/b.tfrecord"]
    with pytest.raises(InputFileError, match="pattern 'nosuch://bucket/\\*' matches no file"):
        expand_file_patterns("nosuch://bucket/*")


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    from albert_tf.io_utils import owned_temp_name, write_atomically

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / (owned_temp_name(".out.json.", dead.pid) + ".tmp")
    left.write_text("half")
    live = tmp_path / (owned_temp_name(".out.json.") + ".tmp")  # a writer still running
    live.write_text("busy")
    # The same dead pid, written from another host sharing the folder: not ours to judge.
    elsewhere = tmp_path / f".out.json.{dead.pid}-0othrhst-0badc0de.tmp"
    elsewhere.write_text("another machine's")
    write_atomically(str(tmp_path / "out.json"), b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, elsewhere.name, "out.json"])
