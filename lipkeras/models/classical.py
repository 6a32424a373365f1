"""Classical emotion baselines on pooled clip features (``lipkeras.emotion.features``).

* :class:`ClassicalEmotion`: a scikit-learn ``Pipeline`` (``StandardScaler`` → classifier) with its
  labels: ``"gnb"`` Gaussian naive Bayes, ``"lda"`` linear discriminant analysis (shrinkage, so
  collinear or constant features are fine), ``"svm"`` a linear SVM whose decision values are
  calibrated to probabilities (Platt sigmoid, 3-fold ``CalibratedClassifierCV``). Saved and
  loaded atomically with joblib (:meth:`ClassicalEmotion.save` / :func:`load_classical`).
* Early fusion: one classifier on the streams' features side by side (:func:`early_fusion`).
* Late fusion: :func:`late_fusion` combines two streams' probabilities (``"mean"`` or
  ``"product"``, renormalised) over the labels both streams know.
* ``PooledFeatureCNN`` (``lipkeras.models.pooled_cnn``; :func:`pooled_cnn`, :func:`fit_cnn`): a small Keras 1D CNN on the same pooled vectors: the vector's
  ``num_stats`` blocks (mean, std, range) become channels over the per-frame features, so the
  convolution runs along the feature axis (MFCC order, or landmarks then blendshapes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CLASSIFIERS = ("gnb", "lda", "svm")
FUSION_RULES = ("mean", "product")
FORMAT_VERSION = 1


def make_pipeline(kind: str, seed: int = 0, C: float = 0.01):
    """The scikit-learn pipeline of one baseline (standardisation first)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if kind == "gnb":
        clf = GaussianNB()
    elif kind == "lda":
        clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    elif kind == "svm":
        clf = CalibratedClassifierCV(LinearSVC(C=C, max_iter=20000, random_state=seed), method="sigmoid", cv=3)
    else:
        raise ValueError(f"unknown classifier {kind!r} (known: {', '.join(CLASSIFIERS)})")
    return Pipeline([("scale", StandardScaler()), ("classifier", clf)])


class ClassicalEmotion:
    """A baseline with its label names: ``fit(X, labels)``, ``predict_proba(X)`` ``[N, len(labels)]``."""

    def __init__(self, kind: str = "svm", labels=None, feature_names=None, seed: int = 0, **params):
        self.kind = kind
        self.pipeline = make_pipeline(kind, seed, **params)
        self.labels = tuple(labels) if labels is not None else None
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self.params = dict(params, seed=seed)

    def fit(self, X, y) -> "ClassicalEmotion":
        """``y``: label names (strings) or indices into ``labels``. Labels default to the sorted names seen."""
        X = np.asarray(X, np.float32)
        y = np.asarray(y)
        if y.dtype.kind in "US":
            if self.labels is None:
                self.labels = tuple(sorted(set(y.tolist())))
            index = {n: i for i, n in enumerate(self.labels)}
            unknown = sorted(set(y.tolist()) - set(index))
            if unknown:
                raise ValueError(f"labels {unknown} are not in this model's labels {self.labels}")
            y = np.array([index[n] for n in y.tolist()])
        elif self.labels is None:
            raise ValueError("integer targets need labels=")
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(f"X must be [N, F] with one label per row, got X {X.shape} and {y.shape[0]} labels")
        if self.feature_names is not None and X.shape[1] != len(self.feature_names):
            raise ValueError(f"X has {X.shape[1]} features, the layout names {len(self.feature_names)}")
        self.pipeline.fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities ``[N, len(labels)]`` in ``labels`` order (a label unseen in training gets 0)."""
        X = np.asarray(X, np.float32)
        p = self.pipeline.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.labels)), np.float64)
        out[:, self.pipeline.classes_] = p
        return out / np.maximum(out.sum(1, keepdims=True), 1e-12)

    def predict(self, X) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(X).argmax(1)]

    def save(self, path) -> Path:
        """joblib to a temp file beside ``path``, then rename (never a half-written model)."""
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        joblib.dump({"format": FORMAT_VERSION, "kind": self.kind, "labels": self.labels,
                     "feature_names": self.feature_names, "params": self.params, "pipeline": self.pipeline}, tmp)
        os.replace(tmp, path)
        return path


def load_classical(path) -> ClassicalEmotion:
    """A :class:`ClassicalEmotion` saved by :meth:`ClassicalEmotion.save` (one-line error otherwise)."""
    import joblib

    try:
        data = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - whatever the unpickler says, the file is the problem
        raise ValueError(f"{path}: not a saved classical emotion model ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: not a saved classical emotion model (format {FORMAT_VERSION})")
    model = ClassicalEmotion.__new__(ClassicalEmotion)
    model.kind, model.labels, model.feature_names = data["kind"], data["labels"], data["feature_names"]
    model.params, model.pipeline = data["params"], data["pipeline"]
    return model


def early_fusion(*streams, num_stats: int | None = None) -> np.ndarray:
    """Streams' feature matrices ``[N, F_i]`` side by side ``[N, sum F_i]`` (one classifier on all).

    With ``num_stats`` (pooled vectors of that many statistic blocks, e.g. 3) the blocks are
    interleaved, ``[mean_a, mean_b, std_a, std_b, range_a, range_b]``, so the result is again a
    pooled vector of ``num_stats`` blocks (what ``PooledFeatureCNN`` reads)."""
    mats = [np.asarray(s, np.float32) for s in streams]
    if len({m.shape[0] for m in mats}) != 1:
        raise ValueError(f"early fusion needs the same rows in every stream, got {[m.shape for m in mats]}")
    if not num_stats:
        return np.concatenate(mats, 1)
    if any(m.shape[1] % num_stats for m in mats):
        raise ValueError(f"early fusion: stream widths {[m.shape[1] for m in mats]} are not {num_stats} blocks each")
    blocks = [np.split(m, num_stats, axis=1) for m in mats]
    return np.concatenate([b[k] for k in range(num_stats) for b in blocks], 1)


def restrict(probs, labels, keep, merge=None) -> np.ndarray:
    """Probabilities over ``labels`` → over ``keep`` (renormalised). ``merge`` maps a label to one of
    ``keep`` whose probability it adds to (e.g. ``{"calm": "neutral"}``); other labels are dropped."""
    probs = np.asarray(probs, np.float64)
    merge = merge or {}
    out = np.zeros((probs.shape[0], len(keep)))
    index = {n: i for i, n in enumerate(keep)}
    for j, name in enumerate(labels):
        target = name if name in index else merge.get(name)
        if target in index:
            out[:, index[target]] += probs[:, j]
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


def late_fusion(p_a, labels_a, p_b, labels_b, rule: str = "mean", labels=None):
    """``(probabilities [N, L], labels)``: two streams combined over ``labels`` (default: the labels
    both know, in ``labels_a``'s order), each first restricted and renormalised to them."""
    if rule not in FUSION_RULES:
        raise ValueError(f"unknown fusion rule {rule!r} (known: {', '.join(FUSION_RULES)})")
    labels = tuple(labels) if labels is not None else tuple(n for n in labels_a if n in set(labels_b))
    if not labels:
        raise ValueError(f"the streams share no label: {labels_a} vs {labels_b}")
    a, b = restrict(p_a, labels_a, labels), restrict(p_b, labels_b, labels)
    fused = (a + b) / 2.0 if rule == "mean" else a * b
    return fused / np.maximum(fused.sum(1, keepdims=True), 1e-300), labels


def __getattr__(name):  # the Keras model, from its own module
    if name == "PooledFeatureCNN":
        from lipkeras.models.pooled_cnn import PooledFeatureCNN

        return PooledFeatureCNN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pooled_cnn(labels, X_train, **config):
    """A :class:`PooledFeatureCNN` standardising with ``X_train``'s statistics."""
    X = np.asarray(X_train, np.float32)
    from lipkeras.models.pooled_cnn import PooledFeatureCNN

    return PooledFeatureCNN(labels=labels, num_features=X.shape[1], mean=X.mean(0), std=X.std(0), **config)


def fit_cnn(model, X, y, X_val=None, y_val=None, epochs: int = 60, batch_size: int = 32, seed: int = 0,
            verbose: int = 0):
    """Adam, sparse cross-entropy, ``epochs`` (best validation accuracy's weights restored when given)."""
    import keras

    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks, val = [], None
    if X_val is not None:
        val = (np.asarray(X_val, np.float32), np.asarray(y_val))
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", patience=15, restore_best_weights=True))
    model.fit(np.asarray(X, np.float32), np.asarray(y), validation_data=val, epochs=epochs, batch_size=batch_size,
              callbacks=callbacks, verbose=verbose)
    return model
