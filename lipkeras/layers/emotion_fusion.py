"""Audio-visual emotion fusion (the design's BEL and MoBEL).

* :class:`LabelAlignment`: a stream's probabilities over its own labels → the fused label list
  (a fixed 0/1 matrix; a fused class the stream lacks gets probability 0 there, and its
  ``coverage`` says so).
* :class:`BELDecisionFusion`: decision-level fusion of per-stream probabilities already on the
  fused labels. ``mode="product"``: the product rule (the design's 74.3 %), computed on
  log-probabilities with per-stream weights; ``"mean"``: a weighted mean of the probabilities;
  ``"learned"``: per-class stream weights (softmax over the streams) on log-probabilities plus a
  per-class bias, fitted on label-matched pairs; it starts as the product rule. A class a stream
  does not know is left to the streams that do: in the product and the learned mode the stream
  contributes there its own mean log-probability over the classes it knows (neutral evidence,
  not a zero that would veto the class); in the mean its weight goes to the other streams.
* :class:`MoBELFusion`: feature-level fusion over the concatenated stream embeddings, a
  brain-emotional-learning network: a thalamic/sensory-cortex projection feeds an amygdala
  branch (which also gets the thalamus' max signal) and an orbitofrontal branch; the
  orbitofrontal output inhibits the amygdala's (``logits = A − O``; the orbitofrontal branch also
  reads the amygdala's output, as in BEL's learning rule). Trained jointly with the streams.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

FUSION_MODES = ("learned", "product", "mean")
_LOG_FLOOR = 1e-7


def alignment_matrix(source_labels, target_labels) -> np.ndarray:
    """``[len(source), len(target)]`` 0/1: source label ``i`` is target label ``j``. Labels absent
    from the target are dropped (their probability mass is renormalised away)."""
    m = np.zeros((len(source_labels), len(target_labels)), np.float32)
    index = {t: j for j, t in enumerate(target_labels)}
    for i, s in enumerate(source_labels):
        if s in index:
            m[i, index[s]] = 1.0
    if not m.any():
        raise ValueError(f"no label in common between {tuple(source_labels)} and {tuple(target_labels)}")
    return m


@keras.saving.register_keras_serializable(package="lipkeras")
class LabelAlignment(keras.layers.Layer):
    """``probs [B, len(source_labels)]`` → ``[B, len(target_labels)]`` on the fused labels,
    renormalised over the classes the stream shares with the fused list (0 on the others)."""

    def __init__(self, source_labels, target_labels, **kwargs):
        super().__init__(**kwargs)
        self.source_labels = tuple(source_labels)
        self.target_labels = tuple(target_labels)
        self.matrix = alignment_matrix(self.source_labels, self.target_labels)

    @property
    def coverage(self) -> np.ndarray:
        """``[len(target_labels)]`` bool: which fused classes this stream knows."""
        return self.matrix.any(0)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.source_labels):
            raise ValueError(f"{self.name}: input has {input_shape[-1]} classes, source_labels {len(self.source_labels)}")
        self.built = True

    def call(self, probs):
        out = ops.matmul(ops.cast(probs, "float32"), ops.convert_to_tensor(self.matrix))
        return out / ops.maximum(ops.sum(out, axis=-1, keepdims=True), _LOG_FLOOR)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.target_labels),)

    def get_config(self):
        return {**super().get_config(), "source_labels": list(self.source_labels),
                "target_labels": list(self.target_labels)}


@keras.saving.register_keras_serializable(package="lipkeras")
class BELDecisionFusion(keras.layers.Layer):
    """``[probs_1 [B, K], ..., probs_S [B, K]]`` (each on the fused labels) → fused probabilities ``[B, K]``.

    ``coverage``: per stream, ``K`` booleans (which classes it knows; default all). ``stream_weights``:
    the fixed per-stream weights of ``product``/``mean`` (default equal) and the starting point of
    ``learned`` (whose per-class weights start equal to them, its bias at 0).
    """

    def __init__(self, num_classes, num_streams=2, mode="learned", coverage=None, stream_weights=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in FUSION_MODES:
            raise ValueError(f"mode must be one of {FUSION_MODES}, got {mode!r}")
        self.num_classes, self.num_streams, self.mode = int(num_classes), int(num_streams), mode
        cov = np.ones((self.num_streams, self.num_classes), bool) if coverage is None else np.asarray(coverage, bool)
        if cov.shape != (self.num_streams, self.num_classes):
            raise ValueError(f"coverage must be [{self.num_streams}, {self.num_classes}], got {list(cov.shape)}")
        if not cov.any(0).all():
            raise ValueError(f"classes {np.flatnonzero(~cov.any(0)).tolist()} are known to no stream")
        self.coverage = cov
        w = np.ones(self.num_streams) if stream_weights is None else np.asarray(stream_weights, np.float64)
        if w.shape != (self.num_streams,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"stream_weights: {self.num_streams} non-negative numbers, not all 0; got {stream_weights}")
        self.stream_weights = (w / w.sum()).astype(np.float32)

    def build(self, input_shape):
        if len(input_shape) != self.num_streams:
            raise ValueError(f"{self.name}: {len(input_shape)} inputs for {self.num_streams} streams")
        if self.mode == "learned":
            start = np.log(np.maximum(self.stream_weights, 1e-6))[:, None] * np.ones((1, self.num_classes))
            self.stream_logits = self.add_weight(name="stream_logits", shape=(self.num_streams, self.num_classes),
                                                 initializer=keras.initializers.Constant(start.astype(np.float32)))
            self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")
        self.built = True

    def _log_probs(self, streams):
        """``[S, B, K]`` log-probabilities; a class a stream lacks gets that stream's mean over its own."""
        cov = ops.convert_to_tensor(self.coverage.astype(np.float32))[:, None, :]
        logs = ops.log(ops.maximum(ops.stack([ops.cast(p, "float32") for p in streams]), _LOG_FLOOR))
        mean = ops.sum(logs * cov, -1, keepdims=True) / ops.sum(cov, -1, keepdims=True)
        return ops.where(cov > 0, logs, mean)

    def stream_weights_per_class(self):
        """``[S, K]``: each stream's weight per class (columns sum to 1). ``mean``: over the streams that
        know the class; ``learned``: over all (a stream's neutral fill on a class it lacks is harmless)."""
        if self.mode == "learned":
            return ops.softmax(self.stream_logits, axis=0)
        w = ops.convert_to_tensor(self.stream_weights)[:, None] * ops.cast(ops.convert_to_tensor(self.coverage), "float32")
        return w / ops.sum(w, 0, keepdims=True)

    def call(self, streams):
        if self.mode == "mean":
            w = self.stream_weights_per_class()[:, None, :]
            p = ops.sum(ops.stack([ops.cast(s, "float32") for s in streams]) * w, 0)
            return p / ops.maximum(ops.sum(p, -1, keepdims=True), _LOG_FLOOR)
        logs = self._log_probs(streams)
        if self.mode == "product":  # Π p_s^w_s: every stream weighted the same on every class it knows
            w = ops.convert_to_tensor(self.stream_weights)[:, None, None]
            z = ops.sum(logs * w, 0)
        else:
            z = ops.sum(logs * self.stream_weights_per_class()[:, None, :], 0) + self.bias
        return ops.softmax(z, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "num_streams": self.num_streams,
                "mode": self.mode, "coverage": self.coverage.tolist(), "stream_weights": self.stream_weights.tolist()}


@keras.saving.register_keras_serializable(package="lipkeras")
class MoBELFusion(keras.layers.Layer):
    """``embeddings [B, D]`` (or a list of them, concatenated) → class probabilities (or logits) ``[B, K]``.

    Thalamus → sensory cortex: ``s = relu(W_s x)`` (``units``). Amygdala: ``A = W_a [s, max(x)]``;
    orbitofrontal cortex: ``O = W_o [relu(W_h s), A]``; output ``A − O`` (the orbitofrontal
    branch inhibits the amygdala's response), softmax unless ``output="logits"``.
    """

    def __init__(self, num_classes, units=256, dropout=0.3, output="probabilities", **kwargs):
        super().__init__(**kwargs)
        if output not in ("probabilities", "logits"):
            raise ValueError(f"output must be 'probabilities' or 'logits', got {output!r}")
        self.num_classes, self.units, self.dropout_rate, self.output_kind = int(num_classes), int(units), float(dropout), output
        self.sensory = keras.layers.Dense(self.units, activation="relu", name="sensory_cortex")
        self.amygdala = keras.layers.Dense(self.num_classes, name="amygdala")
        self.ofc_hidden = keras.layers.Dense(self.units, activation="relu", name="orbitofrontal_hidden")
        self.orbitofrontal = keras.layers.Dense(self.num_classes, name="orbitofrontal", kernel_initializer="zeros")
        self.drop = keras.layers.Dropout(self.dropout_rate)

    def _concat_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return (input_shape[0][0], sum(int(s[-1]) for s in input_shape))
        return tuple(input_shape)

    def build(self, input_shape):
        shape = self._concat_shape(input_shape)
        d = int(shape[-1])
        self.sensory.build((None, d))
        self.amygdala.build((None, self.units + 1))
        self.ofc_hidden.build((None, self.units))
        self.orbitofrontal.build((None, self.units + self.num_classes))
        self.built = True

    def call(self, inputs, training=None):
        x = ops.concatenate([ops.cast(t, "float32") for t in inputs], -1) if isinstance(inputs, (list, tuple)) \
            else ops.cast(inputs, "float32")
        thalamus = ops.max(x, axis=-1, keepdims=True)
        s = self.drop(self.sensory(x), training=training)
        a = self.amygdala(ops.concatenate([s, thalamus], -1))
        o = self.orbitofrontal(ops.concatenate([self.drop(self.ofc_hidden(s), training=training), a], -1))
        logits = a - o
        return logits if self.output_kind == "logits" else ops.softmax(logits, axis=-1)

    def compute_output_shape(self, input_shape):
        return (self._concat_shape(input_shape)[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "units": self.units,
                "dropout": self.dropout_rate, "output": self.output_kind}
