"""RACE multiple choice as the original run_race reads and packs it (race_utils.py).

Layout: `<data_dir>/<split>/<level>/*.txt` for the levels `middle` and `high` (the
original's order), or the same under `<data_dir>/RACE/`. Each file holds one JSON object
per line (a RACE download: one per file; the original's concatenated `all.txt`: one per
line) with `id`, `article`, `questions`, `options` (a list of `num_choices` strings per
question) and `answers` (letters A, B, ...; absent in unlabelled test files).

Each choice k of a question is packed `[CLS] article [SEP] q_k [SEP]` (segment 0 up to
the first [SEP], 1 after), where q_k is the question with every `_` replaced by the
choice (cloze questions), else question + " " + choice. q_k keeps its last
`max_qa_length` tokens; the article is cut to what is left of `max_seq_length` - 3.
With a SentencePiece model the texts are cleaned (`preprocess_text`) before the `_` test
and the joining, as the original does.

Example:

>>> choice_text("The capital of France is _.", "Paris")
'The capital of France is Paris.'
>>> choice_text("What is the capital of France?", "Paris")
'What is the capital of France? Paris'
>>> pack_choice([5, 6, 7, 8], [9, 10, 11], 8, 2, cls=2, sep=3)
([2, 5, 6, 7, 3, 10, 11, 3], [1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 1])
"""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from albert_tf.data.files import content_fingerprint
from albert_tf.data.glue import TaskDataError
from albert_tf.data.tokenizers import Tokenizer

LEVELS = ("middle", "high")  # the original's reading order
LETTERS = "ABCDEFGHIJ"
FIELDS = ("article", "questions", "options")


@dataclasses.dataclass(frozen=True)
class RaceExample:
    """One question with its choices.

    Args:
        example_id: The article's `id` (its file name in RACE).
        question_index: The question's place in the article's `questions`.
        level: `middle` or `high`.
        article, question: The texts as in the file.
        options: The choices, in letter order.
        label: The right choice's index (None in unlabelled test files).
        source: The file and line it comes from (for messages).
    """

    example_id: str
    question_index: int
    level: str
    article: str
    question: str
    options: Tuple[str, ...]
    label: Optional[int]
    source: str


def choice_text(question: str, option: str) -> str:
    """The second segment of one choice: the original's cloze rule."""
    return question.replace("_", option) if "_" in question else " ".join([question, option])


def pack_choice(article_ids: Sequence[int], choice_ids: Sequence[int], max_seq_length: int,
                max_qa_length: int, cls: int, sep: int) -> Tuple[List[int], List[int], List[int]]:
    """(input_ids, input_mask, segment_ids) of one choice, unpadded: the choice keeps its
    last `max_qa_length` tokens, the article what fits after it."""
    ending = list(choice_ids)[-max_qa_length:]
    context = list(article_ids)[:max_seq_length - 3 - len(ending)]
    ids = [cls] + context + [sep] + ending + [sep]
    return ids, [1] * len(ids), [0] * (len(context) + 2) + [1] * (len(ending) + 1)


def split_dir(data_dir: str, split: str) -> str:
    """`<data_dir>/<split>`, or `<data_dir>/RACE/<split>` (the original's layout)."""
    for folder in (os.path.join(data_dir, split), os.path.join(data_dir, "RACE", split)):
        if os.path.isdir(folder):
            return folder
    raise TaskDataError(f"--data_dir={data_dir}: no {split}/ folder (expected "
                        f"{split}/middle/*.txt and {split}/high/*.txt, as RACE is laid out)")


def level_files(data_dir: str, split: str, levels: Sequence[str]) -> List[Tuple[str, str]]:
    """(level, path) of every `.txt` file of the split's levels, sorted by name."""
    folder = split_dir(data_dir, split)
    files, skipped = [], 0
    for level in levels:
        level_dir = os.path.join(folder, level)
        if not os.path.isdir(level_dir):
            continue
        for name in sorted(os.listdir(level_dir)):
            path = os.path.join(level_dir, name)
            if name.endswith(".txt") and os.path.isfile(path):
                files.append((level, path))
            else:
                skipped += 1
    if skipped:
        logging.info("%s: skipped %d entries that are not .txt files", folder, skipped)
    if not files:
        raise TaskDataError(f"{folder}: no .txt files under {' or '.join(levels)}/")
    return files


def _article_examples(record, level: str, where: str, num_choices: int,
                      preprocess) -> List[RaceExample]:
    if not isinstance(record, dict):
        raise TaskDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for name in FIELDS:
        if name not in record:
            raise TaskDataError(f"{where}: missing field {name!r} (RACE files hold "
                                f"{', '.join(('id',) + FIELDS + ('answers',))})")
    questions, options = record["questions"], record["options"]
    answers = record.get("answers")
    if not isinstance(record["article"], str) or not isinstance(questions, list):
        raise TaskDataError(f"{where}: 'article' must be a string and 'questions' a list")
    if not isinstance(options, list) or len(options) != len(questions):
        raise TaskDataError(f"{where}: 'options' must hold a list of choices for each of "
                            f"the {len(questions)} questions")
    if answers is not None and (not isinstance(answers, list)
                                or len(answers) != len(questions)):
        raise TaskDataError(f"{where}: 'answers' must hold one letter for each of the "
                            f"{len(questions)} questions")
    article = preprocess(record["article"])
    examples = []
    for index, (question, choices) in enumerate(zip(questions, options)):
        at = f"{where}, question {index + 1}"
        if not isinstance(question, str):
            raise TaskDataError(f"{at}: the question must be a string")
        if (not isinstance(choices, list) or len(choices) != num_choices
                or not all(isinstance(choice, str) for choice in choices)):
            count = len(choices) if isinstance(choices, list) else type(choices).__name__
            raise TaskDataError(f"{at}: expected {num_choices} option strings "
                                f"(--num_choices), got {count}")
        label = None
        if answers is not None:
            answer = answers[index]
            letters = LETTERS[:num_choices]
            if not isinstance(answer, str) or len(answer) != 1 or answer not in letters:
                raise TaskDataError(f"{at}: answer {answer!r} is not one of "
                                    f"{', '.join(letters)}")
            label = letters.index(answer)
        examples.append(RaceExample(
            str(record.get("id", os.path.basename(where.split(":")[0]))), index, level,
            article, preprocess(question), tuple(preprocess(choice) for choice in choices),
            label, at))
    return examples


def read_race(data_dir: str, split: str, levels: Sequence[str] = LEVELS,
              num_choices: int = 4, tokenizer: Optional[Tokenizer] = None
              ) -> List[RaceExample]:
    """Every question of a split's levels, in the original's order (middle, then high;
    files by name). With a SentencePiece `tokenizer` the texts come cleaned as the
    original cleans them (its `process_text`); otherwise as in the files."""
    preprocess = getattr(tokenizer, "preprocess", None) or (lambda text: text)
    examples: List[RaceExample] = []
    counts: Dict[str, int] = {}
    for level, path in level_files(data_dir, split, levels):
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except UnicodeDecodeError as error:
            raise TaskDataError(f"{path}: not UTF-8 text ({error.reason} at byte "
                                f"{error.start})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise TaskDataError(f"{where}: not a JSON object ({error.msg}, column "
                                    f"{error.colno})") from None
            found = _article_examples(record, level, where, num_choices, preprocess)
            examples.extend(found)
            counts[level] = counts.get(level, 0) + len(found)
    logging.info("read %s: %s", split_dir(data_dir, split),
                 ", ".join(f"{count} {level} questions" for level, count in counts.items()))
    if not examples:
        raise TaskDataError(f"{split_dir(data_dir, split)}: no questions")
    return examples


def data_fingerprint(data_dir: str, split: str, levels: Sequence[str]) -> str:
    """The content fingerprint of a split's files (names, sizes, content)."""
    return content_fingerprint([path for _, path in level_files(data_dir, split, levels)])


def encode_race(examples: Sequence[RaceExample], tokenizer: Tokenizer, max_seq_length: int,
                max_qa_length: int) -> Dict[str, np.ndarray]:
    """`input_ids`, `input_mask`, `segment_ids` int64 [n, num_choices, max_seq_length]
    (zero-padded) and `label_ids` [n] (-1 without a label)."""
    if max_qa_length < 1 or max_qa_length + 3 >= max_seq_length:
        raise TaskDataError(f"--max_qa_length={max_qa_length} must be at least 1 and leave "
                            f"room for the article in --max_seq_length={max_seq_length}")
    special = tokenizer.special_ids
    choices = len(examples[0].options) if examples else 0
    features = {name: np.zeros([len(examples), choices, max_seq_length], np.int64)
                for name in ("input_ids", "input_mask", "segment_ids")}
    articles: Dict[str, List[int]] = {}
    for row, example in enumerate(examples):
        if example.article not in articles:  # an article's questions share its tokens
            articles = {example.article: tokenizer.encode(example.article)}
        texts = [choice_text(example.question, option) for option in example.options]
        for column, choice_ids in enumerate(tokenizer.encode_batch(texts)):
            packed = pack_choice(articles[example.article], choice_ids, max_seq_length,
                                 max_qa_length, special.cls, special.sep)
            for name, values in zip(features, packed):
                features[name][row, column, :len(values)] = values
    features["label_ids"] = np.array([-1 if e.label is None else e.label for e in examples],
                                     np.int64)
    return features


def cached_race_split(data_dir: str, split: str, levels: Sequence[str], num_choices: int,
                      cache_dir: str, tokenizer: Tokenizer, max_seq_length: int,
                      max_qa_length: int, examples: Sequence[RaceExample]) -> str:
    """The TFRecord of one split (`<cache_dir>/race_<split>.tfrecord`, the original's
    record layout: each choice's features one after the other), encoded unless a cache
    built from the same files, tokenizer and lengths exists."""
    import tensorflow as tf

    from albert_tf.data.example_encoding import ExampleEncoder
    from albert_tf.io_utils import atomic_path, write_atomically

    path = os.path.join(cache_dir, f"race_{split}.tfrecord")
    sidecar = path + ".json"
    expected = {"data_sha256": data_fingerprint(data_dir, split, levels),
                "levels": list(levels), "num_choices": num_choices,
                "spm_model_sha256": tokenizer.model_sha256,
                "lower_case": tokenizer.lower_case, "max_seq_length": max_seq_length,
                "max_qa_length": max_qa_length, "examples": len(examples)}
    if os.path.exists(path) and os.path.exists(sidecar):
        with open(sidecar, encoding="utf-8") as handle:
            if json.load(handle) == expected:
                logging.info("using cached %s (%d questions)", path, len(examples))
                return path
    features = encode_race(examples, tokenizer, max_seq_length, max_qa_length)
    labels = features.pop("label_ids")[:, None]
    os.makedirs(cache_dir, exist_ok=True)
    with atomic_path(path) as temp_path, tf.io.TFRecordWriter(temp_path) as writer:
        for record in ExampleEncoder().encode_batch({**features, "label_ids": labels}):
            writer.write(record)
    write_atomically(sidecar, (json.dumps(expected, indent=2) + "\n").encode())
    lengths = features["input_mask"].sum(-1)  # [n, choices]
    logging.info("encoded %s %s: %d questions -> %s (mean length %.1f; %d choices filled "
                 "all %d positions, possibly truncated)", data_dir, split, len(examples),
                 path, float(lengths.mean()), int((lengths == max_seq_length).sum()),
                 max_seq_length)
    return path


def race_dataset(path: str, num_choices: int, max_seq_length: int, batch_size: int,
                 is_training: bool, input_context=None, seed: Optional[int] = None):
    """Batches of int32 `input_ids` / `input_mask` / `segment_ids`
    [batch, num_choices, max_seq_length] and `label_ids` [batch] (training: sharded,
    shuffled, repeated, the last partial batch dropped; else every question in order)."""
    import tensorflow as tf

    from albert_tf.data.features import ENCODER_FEATURES
    from albert_tf.data.record_batches import parsed_batches

    spec = {name: tf.io.FixedLenFeature([num_choices * max_seq_length], tf.int64)
            for name in ENCODER_FEATURES}
    spec["label_ids"] = tf.io.FixedLenFeature([], tf.int64)

    def by_choice(features):
        return {name: tf.reshape(value, [-1, num_choices, max_seq_length])
                if name in ENCODER_FEATURES else value for name, value in features.items()}

    return parsed_batches(path, spec, batch_size, is_training, input_context, seed).map(
        by_choice)
