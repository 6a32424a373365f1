import keras

from lipkeras.layers.pad_to_blank import pin_padding_to_blank


@keras.saving.register_keras_serializable(package="lipkeras")
class CTCHead(keras.layers.Layer):
    """Per-frame logits over the vocabulary; padded frames are forced to emit the blank.

    With padded frames pinned to the blank (logit 0 for blank, -1e4 for the rest), CTC over the
    padded length equals CTC over the true length (the only path through the padding is blanks,
    with log-probability 0), so the loss and decoders need no frame lengths.
    """

    def __init__(self, vocab_size, blank_index=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.blank_index = int(blank_index)
        self.supports_masking = True
        self.dense = keras.layers.Dense(self.vocab_size, name="logits", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, x, mask=None):
        return pin_padding_to_blank(self.dense(x), mask, self.vocab_size, self.blank_index)

    def compute_mask(self, x, mask=None):
        return None  # the padding is encoded in the logits themselves

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.vocab_size,)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, blank_index=self.blank_index)
        return config
