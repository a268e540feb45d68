"""The official question-answering metrics: SQuAD v1.1 (EM/F1), SQuAD v2.0 (exact/f1,
HasAns_*/NoAns_*, best_exact/best_f1 and their null-odds thresholds) and CMRC 2018
(character-level F1/EM), written from the official evaluation scripts' definitions.

Every question of the dataset counts: a question without a prediction scores 0, as in the
official scripts. Gold answers come as `{qas_id: [answer texts]}` (SQuAD v2.0 and CMRC
use an empty list for unanswerable questions).

Example:

>>> golds = {"q1": ["the Eiffel Tower", "Eiffel Tower"], "q2": ["1889"]}
>>> evaluate_v1(golds, {"q1": "Eiffel tower!", "q2": "in 1889"})
{'exact_match': 50.0, 'f1': 83.33333333333333, 'total': 2}
"""

import collections
import functools
import re
import string
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from absl import logging

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (both SQuAD scripts)."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_score(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1_score(gold: str, prediction: str, empty_matches_empty: bool = False) -> float:
    """Token F1 of the normalized texts. With `empty_matches_empty` (v2.0) an empty side
    scores 1 when both are empty, else 0; v1.1 scores an empty side 0."""
    gold_tokens = normalize_answer(gold).split()
    predicted = normalize_answer(prediction).split()
    if empty_matches_empty and (not gold_tokens or not predicted):
        return float(gold_tokens == predicted)
    common = collections.Counter(gold_tokens) & collections.Counter(predicted)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _percent_best_over_golds(golds, predictions, metric) -> float:
    """100 x the mean over every question of the best `metric(gold, prediction)` over its
    gold answers (0 for a question without a prediction)."""
    total = sum(max(metric(gold, predictions[qas_id]) for gold in answers)
                for qas_id, answers in golds.items() if qas_id in predictions)
    return 100.0 * total / len(golds)


def evaluate_v1(golds: Mapping[str, Sequence[str]],
                predictions: Mapping[str, str]) -> Dict[str, float]:
    """SQuAD v1.1: the best EM and F1 over each question's gold answers, in percent."""
    return {"exact_match": _percent_best_over_golds(golds, predictions, exact_score),
            "f1": _percent_best_over_golds(golds, predictions, f1_score), "total": len(golds)}


def _v2_raw_scores(golds, predictions):
    exact, f1 = {}, {}
    for qas_id, answers in golds.items():
        answers = [a for a in answers if normalize_answer(a)] or [""]
        if qas_id not in predictions:
            continue
        prediction = predictions[qas_id]
        exact[qas_id] = max(exact_score(a, prediction) for a in answers)
        f1[qas_id] = max(f1_score(a, prediction, empty_matches_empty=True) for a in answers)
    return exact, f1


def _thresholded(scores, null_odds, has_answer, threshold):
    return {qas_id: float(not has_answer[qas_id]) if null_odds[qas_id] > threshold else score
            for qas_id, score in scores.items()}


def _summary(exact, f1, ids) -> Dict[str, float]:
    total = len(ids)
    return {"exact": 100.0 * sum(exact.get(i, 0) for i in ids) / total,
            "f1": 100.0 * sum(f1.get(i, 0) for i in ids) / total, "total": total}


def _best_threshold(predictions, scores, null_odds, has_answer):
    """The official search: answer everything, then abstain on questions in rising order
    of null odds, keeping the count that scored best."""
    current = best = sum(1 for answerable in has_answer.values() if not answerable)
    threshold = 0.0
    for qas_id in sorted(null_odds, key=lambda i: null_odds[i]):
        if qas_id not in scores:
            continue
        if has_answer[qas_id]:
            current += scores[qas_id]
        else:
            current += -1 if predictions[qas_id] else 0
        if current > best:
            best, threshold = current, null_odds[qas_id]
    return 100.0 * best / len(scores), threshold


def evaluate_v2(golds: Mapping[str, Sequence[str]], predictions: Mapping[str, str],
                null_odds: Optional[Mapping[str, float]] = None,
                null_threshold: float = 1.0) -> Dict[str, float]:
    """SQuAD v2.0: exact/f1 (an empty prediction answers "no answer"), the HasAns_/NoAns_
    subsets and, with `null_odds`, best_exact/best_f1 and the thresholds that give them."""
    has_answer = {qas_id: bool([a for a in answers if normalize_answer(a)])
                  for qas_id, answers in golds.items()}
    searched = null_odds is not None
    null_odds = dict(null_odds) if searched else {i: 0.0 for i in golds}
    exact_raw, f1_raw = _v2_raw_scores(golds, predictions)
    exact = _thresholded(exact_raw, null_odds, has_answer, null_threshold)
    f1 = _thresholded(f1_raw, null_odds, has_answer, null_threshold)
    results = _summary(exact, f1, list(golds))
    for name, wanted in (("HasAns", True), ("NoAns", False)):
        ids = [i for i, answerable in has_answer.items() if answerable == wanted]
        if ids:
            results.update({f"{name}_{key}": value
                            for key, value in _summary(exact, f1, ids).items()})
    if searched:
        best_exact, exact_threshold = _best_threshold(predictions, exact_raw, null_odds,
                                                      has_answer)
        best_f1, f1_threshold = _best_threshold(predictions, f1_raw, null_odds, has_answer)
        results.update(best_exact=best_exact, best_exact_thresh=exact_threshold,
                       best_f1=best_f1, best_f1_thresh=f1_threshold)
    return results


# CMRC 2018's official script removes these characters before scoring (its list also has
# "……", which no single character equals, so "…" stays).
CMRC_PUNCTUATION = set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CHINESE = re.compile(r"[\u4e00-\u9fa5]")


@functools.lru_cache(maxsize=1)
def _word_tokenize() -> Callable[[str], List[str]]:
    """What the official script splits the text between Chinese characters with:
    `nltk.word_tokenize`. That first splits sentences with NLTK's punkt model, a download
    (`nltk.download("punkt_tab")`) this machine may not have; without it each run is one
    sentence (`preserve_line=True`: the same Treebank word tokenizer), which differs only
    where a run holds a period that ends an inner sentence."""
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        logging.info("CMRC 2018 F1: NLTK's punkt data is not installed; each run of "
                     "non-Chinese text is tokenized as one sentence")
        return functools.partial(nltk.word_tokenize, preserve_line=True)
    return nltk.word_tokenize


def cmrc_segments(text: str) -> List[str]:
    """The official `mixed_segmentation(text, rm_punc=True)`: lower-cased, the official
    punctuation out, each Chinese character alone, the text between them through NLTK's
    word tokenizer.

    >>> cmrc_segments("售价6,300元，约合41.5美元 (don't)")
    ['售', '价', '6,300', '元', '约', '合', '41.5', '美', '元', '(', 'do', "n't", ')']
    """
    segments, run = [], ""
    tokenize = _word_tokenize()
    for char in str(text).lower().strip():
        if char in CMRC_PUNCTUATION:
            continue
        if _CHINESE.match(char):
            if run:
                segments += tokenize(run)
            run = ""
            segments.append(char)
        else:
            run += char
    return segments + (tokenize(run) if run else [])


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    lengths = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, start=1):
            current = lengths[j]
            lengths[j] = previous + 1 if x == y else 0
            best = max(best, lengths[j])
            previous = current
    return best


def cmrc_f1(gold: str, prediction: str) -> float:
    gold_segments, predicted = cmrc_segments(gold), cmrc_segments(prediction)
    common = _longest_common_run(gold_segments, predicted)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold_segments)
    return 2 * precision * recall / (precision + recall)


def cmrc_exact(gold: str, prediction: str) -> int:
    def strip(text):
        return "".join(c for c in str(text).lower().strip() if c not in CMRC_PUNCTUATION)
    return int(strip(gold) == strip(prediction))


def evaluate_cmrc(golds: Mapping[str, Sequence[str]],
                  predictions: Mapping[str, str]) -> Dict[str, float]:
    """CMRC 2018: F1 over the longest common run of segments, EM without punctuation, the
    best over the gold answers, in percent, and their average."""
    results = {"f1": _percent_best_over_golds(golds, predictions, cmrc_f1),
               "exact_match": _percent_best_over_golds(golds, predictions, cmrc_exact),
               "total": len(golds)}
    results["average"] = (results["f1"] + results["exact_match"]) / 2
    return results
