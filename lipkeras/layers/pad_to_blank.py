import keras
from keras import ops


def pin_padding_to_blank(logits, mask, vocab_size, blank_index=0):
    """Logits with every padded frame (``mask`` False) set to a certain blank (0 / -1e4)."""
    logits = ops.cast(logits, "float32")
    if mask is None:
        return logits
    blank = ops.where(ops.arange(vocab_size) == blank_index, 0.0, -1e4)
    keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
    return ops.where(keep, logits, ops.cast(blank, "float32")[None, None, :])


@keras.saving.register_keras_serializable(package="lipkeras")
class PadToBlank(keras.layers.Layer):
    """CTC logits ``[B, T, V]`` → the same with padded frames pinned to the blank (see ``CTCHead``).

    For heads whose projection lives elsewhere (the cross-modal reader reuses the decoder's
    output layer as its CTC projection).
    """

    def __init__(self, blank_index=0, **kwargs):
        super().__init__(**kwargs)
        self.blank_index = int(blank_index)
        self.supports_masking = True

    def build(self, input_shape):
        self.built = True

    def call(self, logits, mask=None):
        return pin_padding_to_blank(logits, mask, logits.shape[-1], self.blank_index)

    def compute_mask(self, logits, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(blank_index=self.blank_index)
        return config
