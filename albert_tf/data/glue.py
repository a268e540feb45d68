"""GLUE tasks, Chinese classification tasks (ChnSentiCorp, LCQMC and the CLUE benchmark's
AFQMC, TNEWS, IFLYTEK, CMNLI) and user TSV/CSV tasks: reading examples from files as they
ship.

Every GLUE file is read with its quirks: byte-order marks are dropped (MRPC), quotes are
ordinary characters in the TSVs (MRPC and QNLI texts start with `"`), CoLA's train and
dev files have no header (columns: source, label, original label, sentence) while its
test file does, and test files carry an `index` (QQP: `id`) column instead of a label. ChnSentiCorp ships
TSVs with a `label, text_a` header; LCQMC header-less `text_a, text_b, label` .txt files;
the CLUE tasks JSON lines (`train.json`, `dev.json`, `test.json`, test rows with an `id`;
CMNLI rows labelled `-`, which no annotator majority labels, are skipped as CLUE does).

A bad row (too few columns, a label outside the task's label set, an empty text, a score
that is not a number) is a `TaskDataError` naming the file and line.

Example:

    >>> task = get_task("sst-2")
    >>> task.name, task.labels, task.main_metric
    ('SST-2', ('0', '1'), 'accuracy')
"""

import csv
import dataclasses
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

from albert_tf.errors import AlbertTfError

Column = Union[str, int]  # a header name, or a position in a header-less file


class TaskDataError(AlbertTfError, ValueError):
    """A task or data file problem; the message names the file and line or the flag."""


@dataclasses.dataclass(frozen=True)
class InputExample:
    """One row: `label` is a label string, a float for regression, or None (test)."""

    index: str
    text_a: str
    text_b: Optional[str] = None
    label: Union[str, float, None] = None


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """How a task's files look and how it is scored.

    Args:
        name: The name used in flags and submission files.
        labels: Label strings in id order; None for regression.
        metrics: Metric names reported; `main_metric` picks the best checkpoint.
        files: split -> file name inside the data directory. Predict-only splits start
            with "test".
        text_a, text_b, label: Columns of the labelled splits.
        headerless: Splits whose file has no header row (columns are then positions).
        test_columns: (text_a, text_b) of the test splits when they differ.
        submission_names: test split -> submission file stem (GLUE's `<stem>.tsv`;
            for JSON-lines tasks CLUE's `<stem>.json`, see `json_lines`).
        delimiter: "\\t" for TSV (quotes are plain text), "," for CSV (quoted fields).
        json_lines: Files hold one JSON object per line; columns are its keys (the CLUE
            layout, whose submissions are JSON lines `{"id": ..., "label": ...}` too).
        skip_labels: Labels whose rows are left out (CMNLI's "-").
    """

    name: str
    labels: Optional[Tuple[str, ...]]
    metrics: Tuple[str, ...]
    files: Dict[str, str]
    text_a: Column
    text_b: Optional[Column]
    label: Column
    headerless: Tuple[str, ...] = ()
    test_columns: Optional[Tuple[Column, Optional[Column]]] = None
    submission_names: Dict[str, str] = dataclasses.field(default_factory=dict)
    delimiter: str = "\t"
    json_lines: bool = False
    skip_labels: Tuple[str, ...] = ()

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def num_outputs(self) -> int:
        return 1 if self.labels is None else len(self.labels)

    def path(self, data_dir: str, split: str) -> str:
        if split not in self.files:
            raise TaskDataError(f"task {self.name} has no split {split!r} (it has "
                                f"{sorted(self.files)})")
        return os.path.join(data_dir, self.files[split])

    def read(self, data_dir: str, split: str) -> List[InputExample]:
        return read_examples(self, self.path(data_dir, split), split)


def _glue(name, labels, metrics, text_a, text_b, label, test_split_names=None, **kwargs):
    test_split_names = test_split_names or {"test": name}
    files = {"train": "train.tsv", "dev": "dev.tsv"}
    files.update({split: f"{split}.tsv" for split in test_split_names})
    return TaskSpec(name=name, labels=labels, metrics=metrics, files=files, text_a=text_a,
                text_b=text_b, label=label, submission_names=test_split_names, **kwargs)


def _clue(name, labels, text_a, text_b, **kwargs):
    return TaskSpec(name=name, labels=labels, metrics=("accuracy",),
                files={split: f"{split}.json" for split in ("train", "dev", "test")},
                text_a=text_a, text_b=text_b, label="label", json_lines=True,
                submission_names={"test": f"{name.lower()}_predict"}, **kwargs)


BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")
MNLI_LABELS = ("contradiction", "entailment", "neutral")

GLUE_TASKS: Dict[str, TaskSpec] = {task.name.lower(): task for task in (
    _glue("CoLA", BINARY, ("matthews_corrcoef", "accuracy"), 3, None, 1,
          headerless=("train", "dev"), test_columns=("sentence", None)),
    _glue("SST-2", BINARY, ("accuracy",), "sentence", None, "label"),
    _glue("MRPC", BINARY, ("f1", "accuracy"), "#1 String", "#2 String", "Quality"),
    _glue("STS-B", None, ("pearson", "spearman"), "sentence1", "sentence2", "score"),
    _glue("QQP", BINARY, ("f1", "accuracy"), "question1", "question2", "is_duplicate"),
    TaskSpec(name="MNLI", labels=MNLI_LABELS, metrics=("accuracy",),
         files={"train": "train.tsv", "dev": "dev_matched.tsv",
                "dev_mismatched": "dev_mismatched.tsv", "test": "test_matched.tsv",
                "test_mismatched": "test_mismatched.tsv"},
         text_a="sentence1", text_b="sentence2", label="gold_label",
         submission_names={"test": "MNLI-m", "test_mismatched": "MNLI-mm"}),
    _glue("QNLI", ENTAILMENT, ("accuracy",), "question", "sentence", "label"),
    _glue("RTE", ENTAILMENT, ("accuracy",), "sentence1", "sentence2", "label"),
    _glue("WNLI", BINARY, ("accuracy",), "sentence1", "sentence2", "label"),
    TaskSpec(name="AX", labels=MNLI_LABELS, metrics=("matthews_corrcoef",),
         files={"test": "diagnostic.tsv"}, text_a="sentence1", text_b="sentence2",
         label="label", submission_names={"test": "AX"}),
)}

CHINESE_TASKS: Dict[str, TaskSpec] = {task.name.lower(): task for task in (
    _glue("ChnSentiCorp", BINARY, ("accuracy",), "text_a", None, "label"),
    TaskSpec(name="LCQMC", labels=BINARY, metrics=("accuracy",),
         files={split: f"{split}.txt" for split in ("train", "dev", "test")},
         text_a=0, text_b=1, label=2, headerless=("train", "dev", "test"),
         submission_names={"test": "LCQMC"}),
    _clue("AFQMC", BINARY, "sentence1", "sentence2"),
    _clue("TNEWS", tuple(str(label) for label in range(100, 117) if label not in (105, 111)),
          "sentence", None),
    _clue("IFLYTEK", tuple(str(label) for label in range(119)), "sentence", None),
    _clue("CMNLI", MNLI_LABELS, "sentence1", "sentence2", skip_labels=("-",)),
)}


TASKS: Dict[str, TaskSpec] = {**GLUE_TASKS, **CHINESE_TASKS}


def get_task(name: str) -> TaskSpec:
    """The GLUE or Chinese task called `name` (case-insensitive)."""
    task = TASKS.get(name.lower())
    if task is None:
        supported = ", ".join(t.name for t in TASKS.values())
        raise TaskDataError(f"--task_name: unknown task {name!r}; supported: {supported}, "
                            "or 'custom' with --text_a_column/--label_column")
    return task


def custom_task(data_dir: str, text_a: str, text_b: Optional[str], label: str,
                regression: bool, labels: Optional[Sequence[str]] = None,
                extension: Optional[str] = None) -> TaskSpec:
    """A task over `train`/`dev`/`test` files with a header row in `data_dir`.

    Files are `.tsv` (tab-separated, quotes are text) or `.csv` (comma-separated, quoted
    fields); the extension is found from the files present. Labels for classification are
    `labels` when given, else every label of the training file, sorted. Predictions for
    the test file go to `test_predictions.tsv`.
    """
    if extension is None:
        found = [ext for ext in (".tsv", ".csv")
                 if any(os.path.exists(os.path.join(data_dir, s + ext))
                        for s in ("train", "dev", "test"))]
        if len(found) != 1:
            raise TaskDataError(f"--data_dir {data_dir}: expected train/dev/test files ending "
                                f"in exactly one of .tsv or .csv, found {found or 'none'}")
        extension = found[0]
    task = TaskSpec(name="custom", labels=None, metrics=("pearson", "spearman") if regression
                else ("accuracy", "f1_macro"),
                files={split: split + extension for split in ("train", "dev", "test")},
                text_a=text_a, text_b=text_b, label=label,
                submission_names={"test": "test_predictions"},
                delimiter="\t" if extension == ".tsv" else ",")
    if regression:
        return task
    if labels is None:
        labels = sorted({str(example.label) for example in read_examples(
            dataclasses.replace(task, labels=()), task.path(data_dir, "train"), "train",
            check_labels=False)})
    if not labels:
        raise TaskDataError(f"{task.path(data_dir, 'train')}: no labels found")
    return dataclasses.replace(task, labels=tuple(labels))


def _column_index(header: Optional[List[str]], column: Column, path: str) -> int:
    if isinstance(column, int):
        return column
    if header is None or column not in header:
        raise TaskDataError(f"{path}:1: no column {column!r} in the header "
                            f"{header if header is not None else '(none)'}")
    return header.index(column)


# Python's csv module refuses fields over 131,072 characters by default; a document-level
# task can have longer texts, and anything past max_seq_length is truncated anyway.
MAX_FIELD_CHARS = 1 << 26


def read_examples(task: TaskSpec, path: str, split: str,
                  check_labels: bool = True) -> List[InputExample]:
    """Reads every example of one split file. Line numbers in errors are the file's lines
    (a quoted CSV field may span several)."""
    if not os.path.isfile(path):
        raise TaskDataError(f"{path}: {task.name} {split} file not found")
    previous_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return _read_rows(task, path, split, handle, check_labels)
    except UnicodeDecodeError as error:
        raise TaskDataError(f"{path}:{_first_undecodable_line(path)}: not UTF-8 text "
                            f"({error.reason}); convert the file to UTF-8") from None
    finally:
        csv.field_size_limit(previous_limit)


def _first_undecodable_line(path: str) -> int:
    """The line holding the first byte that is not UTF-8 (the decoder's offset counts from
    the start of its read buffer, so the file is scanned line by line instead)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    raise AssertionError(f"{path}: a decoding error, but every line decodes")


def _read_rows(task: TaskSpec, path: str, split: str, handle, check_labels: bool
               ) -> List[InputExample]:
    if task.json_lines:
        return _examples_from_json_lines(task, path, split, handle, check_labels)
    if task.delimiter == "\t":
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        rows = csv.reader(handle, delimiter=task.delimiter)
    try:
        return _examples_from_rows(task, path, split, rows, check_labels)
    except csv.Error as error:
        raise TaskDataError(f"{path}:{rows.line_num}: {error}") from None


def _examples_from_rows(task: TaskSpec, path: str, split: str, rows, check_labels: bool
                        ) -> List[InputExample]:
    is_test = split.startswith("test")
    header = None if split in task.headerless else next(rows, None)
    columns = (task.test_columns or (task.text_a, task.text_b)) if is_test \
        else (task.text_a, task.text_b)
    text_a = _column_index(header, columns[0], path)
    text_b = None if columns[1] is None else _column_index(header, columns[1], path)
    label = None if is_test else _column_index(header, task.label, path)
    index_column = (next((header.index(name) for name in ("index", "id") if name in header),
                         None) if header else None)
    needed = max(c for c in (text_a, text_b, label, index_column) if c is not None) + 1
    examples = []
    line = rows.line_num + 1  # the physical line the next record starts on
    for row in rows:
        start, line = line, rows.line_num + 1
        if not row or row == [""]:
            continue
        if len(row) < needed:
            raise TaskDataError(f"{path}:{start}: expected at least {needed} columns "
                                f"({task.delimiter!r}-separated), got {len(row)}")
        example = InputExample(
            index=row[index_column] if index_column is not None else str(len(examples)),
            text_a=row[text_a], text_b=None if text_b is None else row[text_b],
            label=None if is_test else _label(task, row[label], path, start, check_labels))
        if not example.text_a.strip() or (example.text_b is not None
                                          and not example.text_b.strip()):
            raise TaskDataError(f"{path}:{start}: empty text")
        examples.append(example)
    return examples


def _examples_from_json_lines(task: TaskSpec, path: str, split: str, handle, check_labels: bool
                              ) -> List[InputExample]:
    is_test = split.startswith("test")
    keys = [key for key in (task.text_a, task.text_b, None if is_test else task.label)
            if key is not None]
    examples = []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise TaskDataError(f"{path}:{number}: not a JSON object ({error})") from None
        if not isinstance(row, dict):
            raise TaskDataError(f"{path}:{number}: expected a JSON object, got "
                                f"{type(row).__name__}")
        missing = [key for key in keys if key not in row]
        if missing:
            raise TaskDataError(f"{path}:{number}: no key {missing[0]!r} (found {sorted(row)})")
        label = None
        if not is_test:
            value = str(row[task.label]).strip()
            if value in task.skip_labels:
                continue
            label = _label(task, value, path, number, check_labels)
        example = InputExample(
            index=str(row.get("id", len(examples))), text_a=str(row[task.text_a]),
            text_b=None if task.text_b is None else str(row[task.text_b]), label=label)
        if not example.text_a.strip() or (example.text_b is not None
                                          and not example.text_b.strip()):
            raise TaskDataError(f"{path}:{number}: empty text")
        examples.append(example)
    return examples


def _label(task: TaskSpec, value: str, path: str, line: int, check: bool):
    if task.is_regression:
        try:
            score = float(value)
        except ValueError:
            raise TaskDataError(f"{path}:{line}: score {value!r} is not a number") from None
        if not math.isfinite(score):
            raise TaskDataError(f"{path}:{line}: score {value!r} is not a finite number")
        return score
    value = value.strip()
    if check and value not in task.labels:
        raise TaskDataError(f"{path}:{line}: label {value!r} is not one of {list(task.labels)}")
    return value
