"""Text metrics with jiwer (WER, CER, sentence accuracy) and classification metrics (accuracy,
per-class precision/recall/F1, macro and weighted averages, confusion matrix)."""

from __future__ import annotations

import numpy as np


def text_metrics(references: list[str], hypotheses: list[str], counts: np.ndarray | None = None) -> dict:
    """Corpus WER and CER (all clips' errors over all reference words / characters, as
    ``jiwer.wer``/``jiwer.cer`` of the lists), sentence accuracy, and their bootstrap intervals
    (``bootstrap_intervals``), from one alignment per clip (``counts``: ``clip_counts`` of the
    same lists, when the caller needs them too)."""
    refs = _references(references)
    counts = clip_counts(references, hypotheses) if counts is None else counts
    totals = counts.sum(0) if len(counts) else np.zeros(4)
    return {
        "wer": float(totals[0] / max(totals[1], 1)),
        "cer": float(totals[2] / max(totals[3], 1)),
        "sentence_accuracy": float(sum(r == h for r, h in zip(references, hypotheses)) / max(len(refs), 1)),
        "clips": len(refs),
        **_count_intervals(counts),
    }


def _references(references: list[str]) -> list[str]:
    return [r if r.strip() else "<empty>" for r in references]  # jiwer refuses an empty reference


def clip_counts(references: list[str], hypotheses: list[str]) -> np.ndarray:
    """``[clips, 4]``: word errors, reference words, character errors, reference characters
    (a clip's WER is column 0 / column 1, its CER column 2 / column 3)."""
    try:
        import jiwer
    except ImportError:  # a training machine without jiwer (the portable stages): the same counts, by hand
        jiwer = None
    counts = []
    for r, h in zip(_references(references), [h if h.strip() else "" for h in hypotheses]):
        if jiwer is None:
            counts.append((edit_distance(r.split(), h.split()), len(r.split()), edit_distance(r, h), len(r)))
            continue
        w, c = jiwer.process_words(r, h), jiwer.process_characters(r, h)
        counts.append((w.substitutions + w.deletions + w.insertions, w.substitutions + w.deletions + w.hits,
                       c.substitutions + c.deletions + c.insertions, c.substitutions + c.deletions + c.hits))
    return np.asarray(counts, np.float64).reshape(-1, 4)


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance of two sequences (substitutions + deletions + insertions)."""
    row = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, b in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (a != b))
    return row[-1]


def _resample_sizes(resamples: int, chunk: int = 100):
    """Bootstrap resamples drawn ``chunk`` at a time, to bound the memory on large splits."""
    return [min(chunk, resamples - i) for i in range(0, resamples, chunk)]


def bootstrap_intervals(references: list[str], hypotheses: list[str], resamples: int = 1000,
                        level: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap intervals of corpus WER and CER over clips (``wer_ci95``,
    ``cer_ci95``): clips are drawn with replacement and errors / reference length recomputed.

    Why: on small splits (GRID's 60 validation clips hold 360 words, one word is 0.28 points)
    two models' scores often differ by less than this interval, so a ranking is noise."""
    return _count_intervals(clip_counts(references, hypotheses), resamples, level, seed)


def _count_intervals(counts: np.ndarray, resamples: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    if not len(counts):
        return {}
    counts = counts[np.lexsort(counts.T[::-1])]  # sorted: the same clips give the same interval in any order
    rng = np.random.default_rng(seed)
    sums = np.concatenate([counts[rng.integers(0, len(counts), size=(n, len(counts)))].sum(1)
                           for n in _resample_sizes(resamples)])  # [resamples, 4]
    return {f"{name}_ci{round(100 * level)}": _percentile_interval(sums[:, err] / np.maximum(sums[:, total], 1), level)
            for name, err, total in (("wer", 0, 1), ("cer", 2, 3))}


def _percentile_interval(values: np.ndarray, level: float = 0.95) -> list[float]:
    tail = 100 * (1 - level) / 2
    return [round(float(np.percentile(values, tail)), 4), round(float(np.percentile(values, 100 - tail)), 4)]


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``[true, predicted]`` counts."""
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return m


def _precision_recall_f1(tp, predicted, support):
    """Element-wise, 0 where undefined (scikit-learn's ``zero_division=0``)."""
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    return precision, recall, np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion matrix.

    A class never predicted has precision 0 (and never present: recall 0), as scikit-learn's
    ``zero_division=0``.
    """
    labels = list(labels)
    m = confusion_matrix(y_true, y_pred, len(labels))
    tp = np.diag(m).astype(float)
    predicted, support = m.sum(0).astype(float), m.sum(1).astype(float)
    precision, recall, f1 = _precision_recall_f1(tp, predicted, support)
    total = max(float(support.sum()), 1.0)
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(labels, precision, recall, f1, support)}

    def average(weights):
        w = np.asarray(weights, float)
        w = w / max(w.sum(), 1e-12)
        return {"precision": float((precision * w).sum()), "recall": float((recall * w).sum()),
                "f1": float((f1 * w).sum())}

    present = support > 0
    return {"accuracy": float(tp.sum() / total), "samples": int(support.sum()), "labels": labels,
            "per_class": per_class, "macro": average(present.astype(float)), "weighted": average(support),
            "confusion_matrix": m.tolist(), **_classification_intervals(y_true, y_pred, len(labels))}


def _classification_intervals(y_true, y_pred, num_classes: int, resamples: int = 1000, seed: int = 0) -> dict:
    """95 % percentile bootstrap intervals over samples of accuracy and macro-F1 (over the classes
    present in each resample): ``accuracy_ci95``, ``macro_f1_ci95``."""
    codes = np.sort(np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64))  # order-free
    if codes.size == 0:
        return {}
    rng, cells = np.random.default_rng(seed), num_classes * num_classes
    m = np.concatenate([  # one confusion matrix per resample: bincount with each resample's cells offset
        np.bincount((codes[rng.integers(0, codes.size, size=(n, codes.size))] + np.arange(n)[:, None] * cells).ravel(),
                    minlength=n * cells).reshape(n, num_classes, num_classes)
        for n in _resample_sizes(resamples)]).astype(float)
    tp = np.diagonal(m, axis1=1, axis2=2)
    predicted, support = m.sum(1), m.sum(2)
    f1 = _precision_recall_f1(tp, predicted, support)[2]
    present = support > 0
    accuracy = tp.sum(1) / codes.size
    macro_f1 = (f1 * present).sum(1) / np.maximum(present.sum(1), 1)
    return {"accuracy_ci95": _percentile_interval(accuracy), "macro_f1_ci95": _percentile_interval(macro_f1)}
