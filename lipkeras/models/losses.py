"""CTC loss for models whose padded frames emit the blank (see ``CTCHead``)."""

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
