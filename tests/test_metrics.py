import numpy as np
import pytest

from albert_tf.training.metrics import (accuracy, compute_metrics, f1, f1_macro,
                                        matthews_corrcoef, pearson, spearman)

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 2, 200)
PREDICTIONS = np.where(RNG.random(200) < 0.8, LABELS, 1 - LABELS)


def counts(labels, predictions):
    tp = int(np.sum((labels == 1) & (predictions == 1)))
    tn = int(np.sum((labels == 0) & (predictions == 0)))
    fp = int(np.sum((labels == 0) & (predictions == 1)))
    fn = int(np.sum((labels == 1) & (predictions == 0)))
    return tp, tn, fp, fn


def test_binary_metrics_match_the_confusion_matrix_formulas():
    tp, tn, fp, fn = counts(LABELS, PREDICTIONS)
    assert accuracy(LABELS, PREDICTIONS) == pytest.approx((tp + tn) / 200)
    assert f1(LABELS, PREDICTIONS) == pytest.approx(2 * tp / (2 * tp + fp + fn))
    mcc = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert matthews_corrcoef(LABELS, PREDICTIONS) == pytest.approx(mcc)


def test_multiclass_mcc_is_the_correlation_of_one_hot_codes():
    labels, predictions = RNG.integers(0, 3, 300), RNG.integers(0, 3, 300)
    predictions[:150] = labels[:150]
    x, y = np.eye(3)[labels], np.eye(3)[predictions]
    x, y = x - x.mean(0), y - y.mean(0)
    expected = np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y))
    assert matthews_corrcoef(labels, predictions) == pytest.approx(expected)


def test_degenerate_cases_are_zero_not_nan():
    assert matthews_corrcoef([1, 1, 1], [1, 1, 1]) == 0.0
    assert f1([0, 0], [0, 0]) == 0.0
    assert pearson([1, 2, 3], [2, 2, 2]) == 0.0


def test_macro_f1_averages_each_class():
    labels, predictions = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0])
    per_class = [2 * 1 / (2 * 1 + 1 + 1), 2 * 1 / (2 * 1 + 1 + 0), 2 * 1 / (2 * 1 + 0 + 1)]
    assert f1_macro(labels, predictions) == pytest.approx(np.mean(per_class))


def test_pearson_and_spearman():
    x, y = RNG.normal(size=100), RNG.normal(size=100)
    y = x + y
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    ranks = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731 (no ties)
    assert spearman(x, y) == pytest.approx(np.corrcoef(ranks(x), ranks(y))[0, 1])
    # Ties share their mean rank: [1, 2, 2, 3] ranks as [0, 1.5, 1.5, 3].
    assert spearman([1, 2, 2, 3], [0, 1.5, 1.5, 3]) == pytest.approx(1.0)
    assert spearman([1, 2, 2, 3], [0, 1, 2, 3]) == pytest.approx(
        np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1])
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)


def test_compute_metrics_by_name():
    assert compute_metrics(("f1", "accuracy"), [1, 0], [1, 1]) == {
        "f1": pytest.approx(2 / 3), "accuracy": 0.5}
