"""SQuAD-style question answering data: examples read from the official JSON (SQuAD v1.1
and v2.0, CMRC 2018), features in doc-stride windows, and predicted token spans mapped
back to the original context.

Alignment is exact by construction instead of the original's longest-common-subsequence
match between the raw context and the detokenized pieces: the tokenizers report, for
every token, the characters of the raw text it came from (`encode_with_offsets`, through
clean-up, lower-casing, accent stripping, NFKD and whitespace runs). A gold answer's
character span becomes the tokens that overlap it, and a predicted token span becomes
the raw context between the first token's start and the last token's end, so an answer
is always a substring of the context as given.

Example:

>>> example = QAExample("q1", "Who?", "Ann met  Bob.", answers=["Bob"], answer_start=9)
>>> example.answer_end
12
>>> check_answer(example)
True
"""

import collections
import dataclasses
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from absl import logging

from albert_tf.errors import AlbertTfError


class SquadDataError(AlbertTfError, ValueError):
    """A question-answering file that cannot be read; the message names the file and the
    question id (or article and paragraph)."""


@dataclasses.dataclass
class QAExample:
    """One question on one context.

    Attributes:
        qas_id: The question's id.
        question: Question text.
        context: Context (paragraph) text, as given.
        answers: Gold answer texts (all of them, for evaluation).
        answer_start: Character offset of the first answer in `context` (None when the
            question is unanswerable or the file gives none).
        is_impossible: SQuAD v2.0: the context does not answer the question.
    """

    qas_id: str
    question: str
    context: str
    answers: List[str] = dataclasses.field(default_factory=list)
    answer_start: Optional[int] = None
    is_impossible: bool = False

    @property
    def answer_end(self) -> Optional[int]:
        """End (exclusive) of the first answer's characters."""
        if self.answer_start is None or not self.answers:
            return None
        return self.answer_start + len(self.answers[0])


def check_answer(example: QAExample) -> bool:
    """Whether the first answer's text is where `answer_start` says (whitespace runs may
    differ: SQuAD's answer texts sometimes collapse them)."""
    found = example.context[example.answer_start:example.answer_end]
    return found == example.answers[0] or found.split() == example.answers[0].split()


@dataclasses.dataclass
class ReadStatistics:
    """What `read_squad` found, and what it left out (the original skips these too)."""

    questions: int = 0
    unanswerable: int = 0
    answer_beyond_context: int = 0
    answer_text_mismatch: int = 0
    empty_question: int = 0  # skipped for training, kept (and answered) for prediction


def _fail(path: str, where: str, message: str) -> SquadDataError:
    return SquadDataError(f"{path}: {where}: {message}")


def _field(mapping, key: str, kind, path: str, where: str):
    if not isinstance(mapping, dict) or key not in mapping:
        raise _fail(path, where, f"missing field {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        raise _fail(path, where, f"field {key!r} must be a {kind.__name__}, got "
                                 f"{type(value).__name__}")
    return value


def read_squad(path: str, is_training: bool, version_2_with_negative: Optional[bool] = None
               ) -> Tuple[List[QAExample], ReadStatistics]:
    """The questions of an official-format JSON file (`{"data": [{"paragraphs": [{"context",
    "qas": [{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}`).

    For training, an answer that lies beyond its context or whose text is not at its
    `answer_start` is counted and the question skipped with a warning (as the original
    skips them), and so is an empty question (kept for prediction, with a warning);
    anything else malformed is a `SquadDataError` naming the file and the question id.
    `version_2_with_negative=False` (a SQuAD v1.1 run) refuses unanswerable questions
    (`is_impossible: true`), as the original v1 reader does; None reads both.
    """
    if not os.path.isfile(path):
        raise SquadDataError(f"{path}: question-answering file not found")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except UnicodeDecodeError as error:
        raise SquadDataError(f"{path}: not UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise SquadDataError(f"{path}: not valid JSON (line {error.lineno}, column "
                             f"{error.colno}): {error.msg}") from None
    articles = _field(document, "data", list, path, "top level")
    stats = ReadStatistics()
    examples: List[QAExample] = []
    seen: Dict[str, str] = {}
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, path,
                                             f"article {a}")):
            where = f"article {a} paragraph {p}"
            context = _field(paragraph, "context", str, path, where)
            questions = _field(paragraph, "qas", list, path, where)
            for q, qa in enumerate(questions):
                qas_id = qa.get("id") if isinstance(qa, dict) else None
                name = (f"question {qas_id!r}" if isinstance(qas_id, (str, int))
                        else f"{where} question {q}")
                qas_id = str(_field(qa, "id", (str, int), path, name))
                if qas_id in seen:
                    raise _fail(path, name, f"duplicate question id (first in {seen[qas_id]})")
                seen[qas_id] = f"{where} question {q}"
                if not context.strip():
                    raise _fail(path, name, "empty context (or only whitespace)")
                question = _field(qa, "question", str, path, name)
                if not question.strip():
                    stats.empty_question += 1
                    logging.warning("%s: %s: empty question%s", path, name,
                                    " (skipped)" if is_training else "")
                    if is_training:
                        continue
                example = _example(qa, qas_id, question, context, path, name, is_training,
                                   stats, version_2_with_negative)
                if example is not None:
                    examples.append(example)
    stats.questions = len(examples)
    if stats.answer_beyond_context or stats.answer_text_mismatch:
        logging.warning("%s: skipped %d question(s) whose answer lies beyond the context "
                        "and %d whose answer text is not at answer_start", path,
                        stats.answer_beyond_context, stats.answer_text_mismatch)
    return examples, stats


def _example(qa, qas_id, question, context, path, name, is_training,
             stats: ReadStatistics, version_2_with_negative: Optional[bool]
             ) -> Optional[QAExample]:
    is_impossible = qa.get("is_impossible", False)
    if not isinstance(is_impossible, bool):
        raise _fail(path, name, f"is_impossible must be true or false, got {is_impossible!r}")
    if is_impossible and version_2_with_negative is False:
        raise _fail(path, name, "is_impossible: true (an unanswerable question, SQuAD "
                                "v2.0) in a SQuAD v1.1 run; pass --version_2_with_negative "
                                "to train and predict SQuAD v2.0")
    answers = _field(qa, "answers", list, path, name) if (
        is_training and not is_impossible) or "answers" in qa else []
    texts = []
    for answer in answers:
        texts.append(_field(answer, "text", str, path, name))
    example = QAExample(qas_id, question, context, texts, is_impossible=is_impossible)
    stats.unanswerable += is_impossible
    if is_impossible or not answers:
        if is_training and not is_impossible:
            raise _fail(path, name, "no answer (and not is_impossible)")
        return example
    start = answers[0].get("answer_start")
    if not isinstance(start, int) or isinstance(start, bool):
        if is_training:
            raise _fail(path, name, f"answer_start must be an integer, got {start!r}")
        return example
    example.answer_start = start
    if start < 0 or example.answer_end > len(context):
        stats.answer_beyond_context += 1
        logging.warning("%s: %s: answer_start %d (+%d characters) is beyond the context "
                        "(%d characters)", path, name, start, len(texts[0]), len(context))
        return None if is_training else dataclasses.replace(example, answer_start=None)
    if not check_answer(example):
        stats.answer_text_mismatch += 1
        logging.warning("%s: %s: the answer %r is not at answer_start %d (found %r)", path,
                        name, texts[0], start, context[start:example.answer_end])
        return None if is_training else dataclasses.replace(example, answer_start=None)
    return example


# ---- features ---------------------------------------------------------------------------

@dataclasses.dataclass
class QAFeature:
    """One doc-stride window of one example, padded to `max_seq_length`.

    `[CLS] question [SEP] context window [SEP]`; `p_mask` is 1 where an answer cannot be
    (everything but [CLS] and the window's context tokens, as in the original; [CLS] is
    the unanswerable target); `token_starts`/`token_ends` give each
    position's characters in the raw context (-1 outside the window); `max_context` says
    whether this window sees the position's token with the most context on both sides.
    `start_position`/`end_position` are the answer's positions (0, [CLS], when the window
    does not hold it or the question is unanswerable).
    """

    example_index: int
    window_index: int
    input_ids: List[int]
    input_mask: List[int]
    segment_ids: List[int]
    p_mask: List[int]
    token_starts: List[int]
    token_ends: List[int]
    max_context: List[int]
    start_position: int = 0
    end_position: int = 0
    is_impossible: bool = False


def answer_token_span(starts: Sequence[int], ends: Sequence[int], answer_start: int,
                      answer_end: int) -> Optional[Tuple[int, int]]:
    """(first, last) token whose characters overlap `[answer_start, answer_end)`, or
    None when no token does (tokens of no character never count)."""
    inside = [i for i, (start, end) in enumerate(zip(starts, ends))
              if end > start and end > answer_start and start < answer_end]
    return (inside[0], inside[-1]) if inside else None


def doc_windows(num_tokens: int, max_tokens: int, doc_stride: int) -> List[Tuple[int, int]]:
    """(start, length) of the windows over `num_tokens` context tokens, as the original
    cuts them: `max_tokens` long, each starting `doc_stride` after the previous one, the
    last one ending at the last token.

    >>> doc_windows(10, 4, 3)
    [(0, 4), (3, 4), (6, 4)]
    """
    windows, start = [], 0
    while start < num_tokens:
        length = min(num_tokens - start, max_tokens)
        windows.append((start, length))
        if start + length == num_tokens:
            break
        start += min(length, doc_stride)
    return windows or [(0, 0)]


def max_context_windows(windows: Sequence[Tuple[int, int]], num_tokens: int) -> np.ndarray:
    """For each context token, the window that gives it the most context, by the
    original's rule: the largest min(left, right) context, ties to the longer window
    (+0.01 per token), then the earlier one.

    >>> max_context_windows([(0, 4), (3, 4), (6, 4)], 10).tolist()
    [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    """
    best = np.zeros(num_tokens, np.int64)
    best_score = np.full(num_tokens, -np.inf)
    for index, (start, length) in enumerate(windows):
        positions = np.arange(start, start + length)
        score = np.minimum(positions - start, start + length - 1 - positions) + 0.01 * length
        better = score > best_score[positions]
        best[positions[better]] = index
        best_score[positions[better]] = score[better]
    return best


@dataclasses.dataclass
class FeatureStatistics:
    examples: int = 0
    features: int = 0
    answers_outside_window: int = 0  # training windows without the answer ([CLS] target)
    questions_truncated: int = 0
    answers_without_tokens: int = 0  # skipped: no token overlaps the answer


def convert_examples(examples: Sequence[QAExample], tokenizer, max_seq_length: int = 384,
                     doc_stride: int = 128, max_query_length: int = 64,
                     is_training: bool = False,
                     stats: Optional[FeatureStatistics] = None) -> List[QAFeature]:
    """Features of every example (several windows for a long context). The question is
    cut to `max_query_length` tokens; an answer no token overlaps is counted and skipped.
    """
    stats = stats if stats is not None else FeatureStatistics()
    special = tokenizer.special_ids
    features: List[QAFeature] = []
    context, encoded = None, None  # questions on one context come together
    for example_index, example in enumerate(examples):
        query = tokenizer.encode(example.question)
        if len(query) > max_query_length:
            stats.questions_truncated += 1
            query = query[:max_query_length]
        if example.context != context:
            context, encoded = example.context, tokenizer.encode_with_offsets(example.context)
        ids, starts, ends = encoded
        span = None
        if is_training and not example.is_impossible:
            span = answer_token_span(starts, ends, example.answer_start, example.answer_end)
            if span is None:
                stats.answers_without_tokens += 1
                continue
        max_tokens = max_seq_length - len(query) - 3
        if max_tokens < 1:
            raise SquadDataError(f"--max_seq_length={max_seq_length} leaves no room for the "
                                 f"context after a {len(query)}-token question (lower "
                                 "--max_query_length or raise --max_seq_length)")
        windows = doc_windows(len(ids), max_tokens, doc_stride)
        best_window = max_context_windows(windows, len(ids))
        stats.examples += 1
        for window_index, (start, length) in enumerate(windows):
            offset = len(query) + 2
            input_ids = [special.cls] + query + [special.sep] + ids[start:start + length] + [
                special.sep]
            used = len(input_ids)
            pad = max_seq_length - used
            segment_ids = [0] * offset + [1] * (length + 1) + [0] * pad
            # [CLS] stays open: an unanswerable window's answer points at it.
            p_mask = [0] + [1] * (offset - 1) + [0] * length + [1] * (1 + pad)
            token_starts = [-1] * offset + starts[start:start + length] + [-1] * (1 + pad)
            token_ends = [-1] * offset + ends[start:start + length] + [-1] * (1 + pad)
            max_context = [0] * offset + (
                best_window[start:start + length] == window_index).astype(int).tolist() + [
                0] * (1 + pad)
            feature = QAFeature(example_index, window_index, input_ids + [0] * pad,
                                [1] * used + [0] * pad, segment_ids, p_mask, token_starts,
                                token_ends, max_context, is_impossible=example.is_impossible)
            if span is not None:
                if start <= span[0] and span[1] < start + length:
                    feature.start_position = span[0] - start + offset
                    feature.end_position = span[1] - start + offset
                else:
                    stats.answers_outside_window += 1
                    feature.is_impossible = True
            features.append(feature)
            stats.features += 1
    return features


# ---- predictions ------------------------------------------------------------------------

@dataclasses.dataclass
class Candidate:
    text: str
    start: int  # characters of the raw context
    end: int
    score: float  # start + end logit
    probability: float = 0.0


def _top(logits: np.ndarray, n: int) -> List[int]:
    return np.argsort(-logits, kind="stable")[:n].tolist()


def best_spans(example: QAExample, features: Sequence[QAFeature],
               start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray],
               n_best_size: int = 20, max_answer_length: int = 30) -> List[Candidate]:
    """The `n_best_size` best answers of an example over its windows (distinct texts,
    best first, with softmax probabilities over them): a start and an end among each
    window's `n_best_size` highest logits, both on context tokens, in order, at most
    `max_answer_length` tokens apart, the start in its max-context window. The text is
    the raw context from the start token's first character to the end token's last."""
    scored = []
    for feature, starts, ends in zip(features, start_logits, end_logits):
        for s in _top(np.asarray(starts), n_best_size):
            if feature.token_starts[s] < 0 or not feature.max_context[s]:
                continue
            for e in _top(np.asarray(ends), n_best_size):
                if feature.token_starts[e] < 0 or e < s or e - s + 1 > max_answer_length:
                    continue
                scored.append((float(starts[s]) + float(ends[e]), feature.token_starts[s],
                               feature.token_ends[e]))
    return _distinct_candidates(example, scored, n_best_size)


def _distinct_candidates(example: QAExample, scored, n_best_size: int) -> List[Candidate]:
    """The `n_best_size` best (score, start, end) of distinct texts, with softmax
    probabilities over them."""
    scored.sort(key=lambda item: -item[0])
    candidates: List[Candidate] = []
    seen = set()
    for score, start, end in scored:
        text = example.context[start:end]
        if text in seen:
            continue
        seen.add(text)
        candidates.append(Candidate(text, start, end, score))
        if len(candidates) == n_best_size:
            break
    if candidates:
        top = max(c.score for c in candidates)
        weights = [math.exp(c.score - top) for c in candidates]
        for candidate, weight in zip(candidates, weights):
            candidate.probability = weight / sum(weights)
    return candidates


def group_by_example(features: Iterable[QAFeature]) -> Dict[int, List[int]]:
    """example index -> the indices of its features, in window order."""
    groups: Dict[int, List[int]] = collections.defaultdict(list)
    for index, feature in enumerate(features):
        groups[feature.example_index].append(index)
    return groups


def best_spans_with_null(example: QAExample, features: Sequence[QAFeature],
                         outputs: Sequence[Dict[str, np.ndarray]], n_best_size: int = 20,
                         max_answer_length: int = 30) -> Tuple[List[Candidate], float]:
    """The original run_squad_v2 post-processing: candidates from each window's beams
    (`start_top_*`, `end_top_*`: start i's ends at i * end_n_top + j), valid when both
    ends are context tokens in order, the start in its max-context window and the span
    at most `max_answer_length` tokens, scored by start + end log-probability; and the
    question's null score, the lowest `cls_logits` over its windows (higher: more likely
    unanswerable)."""
    scored = []
    null_score = math.inf
    for feature, output in zip(features, outputs):
        null_score = min(null_score, float(output["cls_logits"]))
        end_n_top = len(output["end_top_index"]) // len(output["start_top_index"])
        for i, (s, start_log_prob) in enumerate(zip(output["start_top_index"],
                                                    output["start_top_log_probs"])):
            for j in range(i * end_n_top, (i + 1) * end_n_top):
                e, end_log_prob = output["end_top_index"][j], output["end_top_log_probs"][j]
                if (feature.token_starts[s] < 0 or feature.token_starts[e] < 0
                        or not feature.max_context[s] or e < s
                        or e - s + 1 > max_answer_length):
                    continue
                scored.append((float(start_log_prob) + float(end_log_prob),
                               feature.token_starts[s], feature.token_ends[e]))
    return _distinct_candidates(example, scored, n_best_size), null_score
