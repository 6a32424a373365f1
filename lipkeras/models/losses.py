"""CTC loss for models whose padded frames emit the blank (see ``CTCHead``), and the cross-entropies."""

import keras
from keras import ops

from lipkeras.records.vocab import Vocabulary


@keras.saving.register_keras_serializable(package="lipkeras")
class CTCLoss(keras.losses.Loss):
    """CTC on ``y_true`` = character ids padded with ``Vocabulary.PAD`` (0), ``y_pred`` = logits.

    Label lengths are the non-pad counts (the blank/pad id never occurs inside a target); the
    output length is the padded length, exact because padded frames are pinned to the blank.
    """

    def __init__(self, name="ctc", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        label_len = ops.sum(ops.cast(ops.not_equal(y_true, Vocabulary.PAD), "int32"), axis=-1)
        shape = ops.shape(y_pred)
        out_len = ops.full((shape[0],), shape[1], dtype="int32")
        return ops.ctc_loss(y_true, ops.cast(y_pred, "float32"), label_len, out_len, mask_index=Vocabulary.BLANK)


def smoothed_nll(logp, ids, label_smoothing=0.0):
    """``-log p[id]`` per position from log-probabilities ``[..., V]``, with ``label_smoothing`` ε
    of the target spread uniformly over the ``V`` classes."""
    nll = -ops.squeeze(ops.take_along_axis(logp, ops.expand_dims(ids, -1), axis=-1), -1)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * ops.mean(logp, axis=-1)
    return nll


@keras.saving.register_keras_serializable(package="lipkeras")
class MaskedCrossEntropy(keras.losses.Loss):
    """Next-character cross-entropy on logits ``[B, L, V]``, ignoring ``pad_id`` targets.

    ``label_smoothing`` spreads ε of the target mass uniformly. ``per_token=True`` averages over
    each sequence's real tokens (a language model's nats per character); ``False`` sums them, so
    the loss is on the same per-utterance scale as CTC when the two are mixed.
    """

    def __init__(self, label_smoothing=0.0, per_token=True, pad_id=Vocabulary.PAD, name="masked_ce",
                 reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.label_smoothing, self.per_token, self.pad_id = float(label_smoothing), bool(per_token), int(pad_id)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        nll = smoothed_nll(ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1), y_true, self.label_smoothing)
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        total = ops.sum(nll * mask, axis=-1)
        return total / ops.maximum(ops.sum(mask, axis=-1), 1.0) if self.per_token else total

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing, per_token=self.per_token, pad_id=self.pad_id)
        return config


def _soft_targets(y_true, y_pred) -> bool:
    """Whether ``y_true`` holds a distribution per row ``[B, K]`` (mixup) rather than class ids."""
    return len(y_true.shape) == 2 and y_true.shape[-1] == y_pred.shape[-1] and y_true.shape[-1] != 1


@keras.saving.register_keras_serializable(package="lipkeras")
class SparseCrossEntropy(keras.losses.Loss):
    """Cross-entropy of class ids ``y_true`` ``[B]`` against probabilities ``y_pred`` ``[B, K]``
    (a softmax head), with ``label_smoothing`` ε: the target is ``(1 - ε)`` one-hot + ``ε / K``.

    Keras' sparse cross-entropy has no smoothing, and one-hot labels in ``tf.data`` would change
    what the data pipelines yield; ε = 0 is exactly ``sparse_categorical_crossentropy``. Soft
    targets ``[B, K]`` (mixup's blends of two labels) are accepted too: ``-Σ target · log p``,
    smoothed the same way.
    """

    def __init__(self, label_smoothing=0.0, name="sparse_cross_entropy", reduction="sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        logp = ops.log(ops.clip(ops.cast(y_pred, "float32"), keras.config.epsilon(), 1.0))
        if _soft_targets(y_true, y_pred):
            nll = -ops.sum(ops.cast(y_true, "float32") * logp, axis=-1)  # soft targets
            if self.label_smoothing:
                nll = (1 - self.label_smoothing) * nll - self.label_smoothing * ops.mean(logp, axis=-1)
            return nll
        return smoothed_nll(logp, ops.reshape(ops.cast(y_true, "int32"), (-1,)), self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing)
        return config


@keras.saving.register_keras_serializable(package="lipkeras")
def label_accuracy(y_true, y_pred):
    """1 where the arg-max of ``y_pred`` ``[B, K]`` is the label: ``y_true`` class ids ``[B]`` or
    soft targets ``[B, K]`` (their arg-max, mixup's larger share), so one metric serves the mixed
    training batches and the plain validation ones."""
    if _soft_targets(y_true, y_pred):
        y_true = ops.argmax(y_true, axis=-1)
    y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.cast(ops.equal(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), y_true), "float32")
