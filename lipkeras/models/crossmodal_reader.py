"""The integrated cross-modal lip reader (the ``integrate`` stage).

The pre-trained visual module gives MC; the pre-trained character decoder attends to it through
new cross-attention (source–target attention) layers; the visual stage's CTC branch stays on
top of MC. Trained with ``ctc_weight · CTC + (1 − ctc_weight) · CE`` as hybrid CTC/attention
recognisers are; decoded by attention beam search with CTC prefix scores and a fused LM.
"""

from __future__ import annotations

import keras

from lipkeras.layers import SequenceMask, TransformerDecoder
from lipkeras.models.base import ConfigModel
from lipkeras.models.lipnet import frame_inputs
from lipkeras.models.multi_motion_encoder import MultiMotionEncoder
from lipkeras.models.visual_ctc_reader import ctc_branch


@keras.saving.register_keras_serializable(package="lipkeras")
class CrossModalReader(ConfigModel):
    """``{"frames", "frame_lengths", "tokens"}`` → ``{"ctc": [B, T, V], "attention": [B, L, V]}``.

    ``tokens`` is ``<sos>`` + characters (pad 0); ``attention`` predicts the characters + ``<eos>``.
    ``encoder`` is a MultiMotionEncoder config, ``decoder`` a CharLanguageModel config.
    """

    def __init__(self, vocab_size=40, encoder=None, decoder=None, rnn_units=128, dropout=0.1, **kwargs):
        encoder, decoder = dict(encoder or {}), dict(decoder or {})
        decoder.pop("vocab_size", None)
        frames, lengths = frame_inputs(encoder.get("channels", 1))
        tokens = keras.Input((None,), dtype="int32", name="tokens")
        mask = SequenceMask(name="mask")([frames, lengths])
        mc = MultiMotionEncoder(**encoder, name="encoder")({"frames": frames, "frame_lengths": lengths})
        d_model = decoder.get("d_model", 256)
        ctc = ctc_branch(mc, mask, vocab_size, rnn_units, d_model, dropout, "decoder_output")
        memory = mc
        if mc.shape[-1] != d_model:
            memory = keras.layers.Dense(d_model, name="memory_projection")(mc)
        memory = keras.layers.Identity(name="memory")(memory)  # a named node, so inference can read it
        attention = TransformerDecoder(vocab_size, cross_attention=True, name="decoder", **decoder)(
            tokens, memory=memory, memory_mask=mask)
        outputs = {"ctc": keras.layers.Identity(name="ctc")(ctc),
                   "attention": keras.layers.Identity(name="attention")(attention)}
        super().__init__(inputs={"frames": frames, "frame_lengths": lengths, "tokens": tokens}, outputs=outputs,
                         **kwargs)
        self.config = dict(vocab_size=vocab_size, encoder=encoder, decoder=decoder, rnn_units=rnn_units,
                           dropout=dropout)
