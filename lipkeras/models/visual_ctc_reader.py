"""Piece-wise pre-training of the visual module (the ``visual`` stage).

Visual module → one bidirectional GRU → projection to the decoder's width → the pre-trained
decoder's output (softmax) layer, frozen by the training stage → CTC. The frozen layer makes the
visual module learn contexts that already live in the decoder's space, so the later cross-modal
integration starts from two modules that speak the same language.
"""

from __future__ import annotations

import keras

from lipkeras.layers import PadToBlank, SequenceMask
from lipkeras.models.base import ConfigModel
from lipkeras.models.lipnet import frame_inputs
from lipkeras.models.multi_motion_encoder import MultiMotionEncoder


def ctc_branch(mc, mask, vocab_size, rnn_units, decoder_dim, dropout, output_name):
    """MC → BiGRU → projection into the decoder's space → output layer → logits (padding = blank)."""
    x = keras.layers.Bidirectional(keras.layers.GRU(rnn_units, return_sequences=True, name="gru"),
                                   name="ctc_bigru")(mc, mask=mask)
    x = keras.layers.Dropout(dropout, name="ctc_dropout")(x)
    x = keras.layers.Dense(decoder_dim, name="to_decoder_space")(x)
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_space_norm")(x)
    logits = keras.layers.Dense(vocab_size, name=output_name)(x)
    return PadToBlank(name="pad_to_blank")(logits, mask=mask)


@keras.saving.register_keras_serializable(package="lipkeras")
class VisualCTCReader(ConfigModel):
    """``{"frames", "frame_lengths"}`` → CTC logits ``[B, T, V]``; ``encoder`` = MultiMotionEncoder config."""

    def __init__(self, vocab_size=40, encoder=None, rnn_units=128, decoder_dim=256, dropout=0.1, **kwargs):
        encoder = dict(encoder or {})
        frames, lengths = frame_inputs(encoder.get("channels", 1))
        inputs = {"frames": frames, "frame_lengths": lengths}
        mask = SequenceMask(name="mask")([frames, lengths])
        mc = MultiMotionEncoder(**encoder, name="encoder")(inputs)
        logits = ctc_branch(mc, mask, vocab_size, rnn_units, decoder_dim, dropout, "decoder_output")
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.config = dict(vocab_size=vocab_size, encoder=encoder, rnn_units=rnn_units, decoder_dim=decoder_dim,
                           dropout=dropout)
