"""Classification metrics against hand-computed values."""

import numpy as np
import pytest

from lipkeras.metrics import classification_metrics, confusion_matrix


def test_confusion_matrix_counts():
    m = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_precision_recall_f1_and_averages():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    r = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(4 / 6)
    a, b, c = (r["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (b["precision"], b["recall"], b["f1"]) == (pytest.approx(0.5), pytest.approx(1.0), pytest.approx(2 / 3))
    assert (c["precision"], c["recall"], c["f1"]) == (pytest.approx(1.0), pytest.approx(2 / 3), pytest.approx(0.8))
    assert r["macro"]["f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert r["weighted"]["f1"] == pytest.approx((2 * 0.5 + 1 * 2 / 3 + 3 * 0.8) / 6)
    assert r["confusion_matrix"][2] == [1, 0, 2]


def test_absent_and_never_predicted_classes():
    r = classification_metrics([0, 0], [0, 0], ["x", "y"])
    assert r["per_class"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["macro"]["f1"] == pytest.approx(1.0)  # the macro average is over classes that occur


def test_bootstrap_intervals_bracket_accuracy_and_macro_f1():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 3, 300))
    r = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    lo, hi = r["accuracy_ci95"]
    assert lo < r["accuracy"] < hi and hi - lo < 0.15  # ~±1.96·sqrt(p(1-p)/n) ≈ ±0.05
    assert r["macro_f1_ci95"][0] < r["macro"]["f1"] < r["macro_f1_ci95"][1]
    again = classification_metrics(y_true[::-1], y_pred[::-1], ["a", "b", "c"])
    assert again["accuracy_ci95"] == r["accuracy_ci95"]  # seeded, independent of sample order
    perfect = classification_metrics([0, 1, 2], [0, 1, 2], ["a", "b", "c"])
    assert perfect["accuracy_ci95"] == [1.0, 1.0] and perfect["macro_f1_ci95"] == [1.0, 1.0]
