"""The character language model: the transformer decoder without memory (the ``decoder`` stage)."""

from __future__ import annotations

import keras

from lipkeras.layers import TransformerDecoder
from lipkeras.models.base import ConfigModel


@keras.saving.register_keras_serializable(package="lipkeras")
class CharLanguageModel(ConfigModel):
    """``tokens [B, L]`` (``<sos>`` + characters, pad 0) → next-character logits ``[B, L, V]``."""

    def __init__(self, vocab_size=40, d_model=256, num_layers=2, num_heads=4, ff_dim=1024, dropout=0.1, **kwargs):
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        logits = TransformerDecoder(vocab_size, d_model, num_layers, num_heads, ff_dim, dropout,
                                    cross_attention=False, name="decoder")(tokens)
        super().__init__(inputs=tokens, outputs=logits, **kwargs)
        self.config = dict(vocab_size=vocab_size, d_model=d_model, num_layers=num_layers, num_heads=num_heads,
                           ff_dim=ff_dim, dropout=dropout)
