"""GLUE metrics as the leaderboard defines them, in NumPy.

Example:

    >>> round(matthews_corrcoef([1, 1, 0, 0], [1, 0, 0, 0]), 4)
    0.5774
"""

from typing import Callable, Dict, Sequence

import numpy as np


def accuracy(labels: Sequence[int], predictions: Sequence[int]) -> float:
    return float(np.mean(np.asarray(labels) == np.asarray(predictions)))


def f1(labels: Sequence[int], predictions: Sequence[int], positive: int = 1) -> float:
    """F1 of the positive class (MRPC, QQP); 0 when there are no true positives."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    true_positives = np.sum((predictions == positive) & (labels == positive))
    if true_positives == 0:
        return 0.0
    precision = true_positives / np.sum(predictions == positive)
    recall = true_positives / np.sum(labels == positive)
    return float(2 * precision * recall / (precision + recall))


def f1_macro(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Unweighted mean of every label's F1 (custom classification tasks)."""
    classes = np.union1d(np.asarray(labels), np.asarray(predictions))
    return float(np.mean([f1(labels, predictions, positive=c) for c in classes]))


def matthews_corrcoef(labels: Sequence[int], predictions: Sequence[int]) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K); 0 when undefined (CoLA, AX)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    classes = np.union1d(labels, predictions)
    confusion = np.array([[np.sum((labels == a) & (predictions == b)) for b in classes]
                          for a in classes], dtype=np.float64)
    total, correct = confusion.sum(), np.trace(confusion)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    numerator = correct * total - true_counts @ predicted_counts
    denominator = np.sqrt((total ** 2 - predicted_counts @ predicted_counts)
                          * (total ** 2 - true_counts @ true_counts))
    return float(numerator / denominator) if denominator else 0.0


def pearson(labels: Sequence[float], predictions: Sequence[float]) -> float:
    labels = np.asarray(labels, np.float64) - np.mean(labels)
    predictions = np.asarray(predictions, np.float64) - np.mean(predictions)
    denominator = np.sqrt(np.sum(labels ** 2) * np.sum(predictions ** 2))
    return float(np.sum(labels * predictions) / denominator) if denominator else 0.0


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), np.float64)
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end - 1) / 2.0  # ties share their mean rank
            start = end
    return ranks


def spearman(labels: Sequence[float], predictions: Sequence[float]) -> float:
    return pearson(_average_ranks(np.asarray(labels, np.float64)),
                   _average_ranks(np.asarray(predictions, np.float64)))


METRICS: Dict[str, Callable[[Sequence, Sequence], float]] = {
    "accuracy": accuracy, "f1": f1, "f1_macro": f1_macro,
    "matthews_corrcoef": matthews_corrcoef, "pearson": pearson, "spearman": spearman}


def compute_metrics(names: Sequence[str], labels, predictions) -> Dict[str, float]:
    """{name: value} for each metric name (see METRICS)."""
    return {name: METRICS[name](labels, predictions) for name in names}
