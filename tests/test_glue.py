"""GLUE processors against the shipped files (../shared/data/glue), and custom tasks."""

import os

import pytest

from albert_tf.data.glue import GLUE_TASKS, TaskDataError, custom_task, get_task
from tests.helpers import GLUE_DIR

SHIPPED = [(name, split) for name in ("CoLA", "SST-2", "MRPC", "STS-B", "RTE", "WNLI", "QNLI")
           for split in ("train", "dev", "test")
           if os.path.exists(os.path.join(GLUE_DIR, name, f"{split}.tsv"))]


def raw_rows(path):
    """Rows of a TSV split on tabs by hand: the independent expectation."""
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    return [line.split("\t") for line in text.lstrip("\ufeff").split("\n") if line]


@pytest.mark.skipif(not SHIPPED, reason="GLUE files not present in ../shared/data/glue")
@pytest.mark.parametrize("name, split", SHIPPED)
def test_every_shipped_file_reads_in_full(name, split):
    task = get_task(name)
    examples = task.read(os.path.join(GLUE_DIR, name), split)
    rows = raw_rows(task.path(os.path.join(GLUE_DIR, name), split))
    header = None if split in task.headerless else rows.pop(0)
    assert len(examples) == len(rows)
    if split == "test":
        assert all(e.label is None for e in examples)
        assert [e.index for e in examples] == [row[header.index("index")] for row in rows]
    elif task.is_regression:
        scores = [float(row[header.index("score")]) for row in rows]
        assert [e.label for e in examples] == scores and 0 <= min(scores) <= max(scores) <= 5
    else:
        column = task.label if isinstance(task.label, int) else header.index(task.label)
        assert {e.label for e in examples} == {row[column] for row in rows} == set(task.labels)
    text_column = task.text_a if isinstance(task.text_a, int) else None
    if text_column is not None and split != "test":
        assert [e.text_a for e in examples] == [row[text_column] for row in rows]
    assert all(e.text_a.strip() for e in examples)
    assert (task.text_b is None) == all(e.text_b is None for e in examples)


@pytest.mark.skipif(not SHIPPED, reason="GLUE files not present")
def test_quirks_bom_quotes_and_headerless_cola():
    mrpc = get_task("MRPC").read(os.path.join(GLUE_DIR, "MRPC"), "dev")
    assert mrpc[0].label == "1" and mrpc[0].text_b.startswith('" The foodservice')
    cola = get_task("cola").read(os.path.join(GLUE_DIR, "CoLA"), "train")
    assert cola[0].text_a.startswith("Our friends won't buy this analysis")


def test_unknown_task_lists_the_supported_ones():
    with pytest.raises(TaskDataError, match="unknown task 'sst'; supported: CoLA, SST-2, MRPC, "
                                            "STS-B, QQP, MNLI, QNLI, RTE, WNLI, AX"):
        get_task("sst")


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_mnli_qqp_and_ax_formats(tmp_path):
    header = "index\tpromptID\tpairID\tgenre\ts1bp\ts2bp\ts1p\ts2p\tsentence1\tsentence2"
    write(tmp_path / "dev_matched.tsv", header + "\tlabel1\tgold_label\n"
          "0\t1\t1e\tfiction\tx\tx\tx\tx\tA man.\tA person.\tentailment\tentailment\n")
    write(tmp_path / "test_mismatched.tsv", header + "\n7\t1\t1e\tfiction\tx\tx\tx\tx\tA.\tB.\n")
    mnli = get_task("MNLI")
    dev = mnli.read(str(tmp_path), "dev")
    assert (dev[0].text_a, dev[0].text_b, dev[0].label) == ("A man.", "A person.", "entailment")
    assert mnli.read(str(tmp_path), "test_mismatched")[0].index == "7"
    assert mnli.submission_names == {"test": "MNLI-m", "test_mismatched": "MNLI-mm"}
    write(tmp_path / "test.tsv", "id\tquestion1\tquestion2\n42\tWhy?\tHow?\n")
    qqp = get_task("QQP").read(str(tmp_path), "test")
    assert (qqp[0].index, qqp[0].text_a, qqp[0].text_b) == ("42", "Why?", "How?")
    write(tmp_path / "diagnostic.tsv", "index\tsentence1\tsentence2\n0\tA.\tB.\n")
    assert get_task("AX").read(str(tmp_path), "test")[0].text_b == "B."


def test_bad_rows_name_the_file_and_line(tmp_path):
    rte = get_task("RTE")
    path = write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tlabel\n"
                 "0\tA.\tB.\tentailment\n1\tA.\tB.\tmaybe\n")
    with pytest.raises(TaskDataError, match=rf"{path}:3: label 'maybe' is not one of"):
        rte.read(str(tmp_path), "train")
    write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tentailment\n")
    with pytest.raises(TaskDataError, match=r"train.tsv:2: expected at least 4 columns"):
        rte.read(str(tmp_path), "train")
    write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\t \tB.\tentailment\n")
    with pytest.raises(TaskDataError, match=r"train.tsv:2: empty text"):
        rte.read(str(tmp_path), "train")
    write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tscore\n0\tA.\tB.\thigh\n")
    with pytest.raises(TaskDataError, match=r"train.tsv:2: score 'high' is not a number"):
        get_task("STS-B").read(str(tmp_path), "train")
    with pytest.raises(TaskDataError, match="dev.tsv: RTE dev file not found"):
        rte.read(str(tmp_path), "dev")


def test_custom_csv_collects_labels_from_train(tmp_path):
    write(tmp_path / "train.csv", 'review,stars,extra\n"Great, really",good,x\nBad,bad,y\n'
          'Fine,good,z\n')
    write(tmp_path / "dev.csv", "review,stars,extra\nOk,good,x\n")
    task = custom_task(str(tmp_path), "review", None, "stars", regression=False)
    assert task.labels == ("bad", "good") and task.delimiter == ","
    train = task.read(str(tmp_path), "train")
    assert train[0].text_a == "Great, really" and train[0].label == "good"
    with pytest.raises(TaskDataError, match=r"no column 'text' in the header"):
        custom_task(str(tmp_path), "text", None, "stars", regression=False)
    write(tmp_path / "test.tsv", "review\nok\n")
    with pytest.raises(TaskDataError, match=r"exactly one of .tsv or .csv, found \['.tsv', '.csv'\]"):
        custom_task(str(tmp_path), "review", None, "stars", regression=False)
    (tmp_path / "test.tsv").unlink()
    regression = custom_task(str(tmp_path), "review", None, "stars", regression=True)
    with pytest.raises(TaskDataError, match=r"train.csv:2: score 'good' is not a number"):
        regression.read(str(tmp_path), "train")


def test_every_task_names_its_metrics():
    assert get_task("cola").main_metric == "matthews_corrcoef"
    assert get_task("mrpc").metrics == ("f1", "accuracy")
    assert get_task("sts-b").is_regression and get_task("sts-b").num_outputs == 1
    assert len(GLUE_TASKS) == 10


def custom(tmp_path, name, data: bytes, regression=False):
    (tmp_path / name).write_bytes(data)
    task = custom_task(str(tmp_path), "text", None, "label", regression,
                       labels=None if regression else ["a", "b"])
    return task.read(str(tmp_path), "train")


def test_unreadable_text_and_odd_files_are_named_errors_or_read_right(tmp_path):
    """Before: non-UTF-8 bytes and a field over 131,072 characters ended in tracebacks, nan
    scores were accepted, CSV errors counted records (not lines) and a CR-only file was
    one line."""
    with pytest.raises(TaskDataError, match=r"train.tsv:3: not UTF-8 text"):
        custom(tmp_path, "train.tsv", b"text\tlabel\nfine\ta\nbad \xff\xfe\tb\n")
    (tmp_path / "train.tsv").unlink()
    long_text = "word " * 40_000  # 200,000 characters
    examples = custom(tmp_path, "train.tsv", f"text\tlabel\n{long_text}\ta\n".encode())
    assert examples[0].text_a == long_text
    (tmp_path / "train.tsv").unlink()
    assert [e.text_a for e in custom(tmp_path, "train.tsv", b"text\tlabel\rx\ta\ry\tb\r")] == [
        "x", "y"]
    for score in ("nan", "inf", "-Infinity"):
        (tmp_path / "train.tsv").unlink()
        with pytest.raises(TaskDataError, match=f"train.tsv:3: score '{score}' is not a finite"):
            custom(tmp_path, "train.tsv", f"text\tlabel\nok\t1.5\nbad\t{score}\n".encode(),
                   regression=True)
    (tmp_path / "train.tsv").unlink()
    # The record on line 4 follows a quoted field that spans lines 2-3.
    with pytest.raises(TaskDataError, match=r"train.csv:4: label 'c' is not one of"):
        custom(tmp_path, "train.csv", b'text,label\n"two\nlines",a\nthird,c\n')
