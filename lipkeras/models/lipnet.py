"""LipNet (Assael et al., 2016): three spatiotemporal conv blocks + two bidirectional RNNs + CTC."""

from __future__ import annotations

import keras

from lipkeras.models.base import ConfigModel
from lipkeras.layers import CTCHead, FrameFold, FrameUnfold, MouthPreprocessing, SequenceMask


def frame_inputs(channels: int):
    frames = keras.Input((None, None, None, channels), name="frames")
    lengths = keras.Input((), dtype="int32", name="frame_lengths")
    return frames, lengths


def bidirectional_stack(x, mask, rnn_type, units, layers, dropout, prefix):
    rnn = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[rnn_type]
    for i in range(layers):
        cell = rnn(units, return_sequences=True, kernel_initializer="orthogonal" if rnn_type == "lstm" else "glorot_uniform",
                   name=f"{prefix}{rnn_type}{i + 1}")
        x = keras.layers.Bidirectional(cell, merge_mode="concat", name=f"{prefix}bi{rnn_type}{i + 1}")(x, mask=mask)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{prefix}rnn_dropout{i + 1}")(x)
    return x


@keras.saving.register_keras_serializable(package="lipkeras")
class LipNet(ConfigModel):
    """The LipNet family. Constructor arguments are the config (``get_config`` returns them).

    Presets (``lipkeras.models.PRESETS``): ``lipnet_paper`` (Conv3D 32/64/96, BiGRU 256 ×2,
    50×100 input) and ``lipnet_seed`` (the seed notebook: Conv3D 128/256/75 with 3×3×3 kernels,
    BiLSTM 128 ×2 with dropout 0.5, 46×140 input).
    """

    def __init__(
        self,
        vocab_size=40,
        input_size=(50, 100),
        channels=1,
        conv_filters=(32, 64, 96),
        conv_kernels=((3, 5, 5), (3, 5, 5), (3, 3, 3)),
        conv_strides=((1, 2, 2), (1, 1, 1), (1, 1, 1)),
        spatial_dropout=0.5,
        rnn_type="gru",
        rnn_units=256,
        rnn_layers=2,
        rnn_dropout=0.0,
        normalization="clip",
        **kwargs,
    ):
        frames, lengths = frame_inputs(channels)
        mask = SequenceMask(name="mask")([frames, lengths])
        x = MouthPreprocessing(input_size, normalization, name="preprocess")(frames, mask=mask)
        for i, (f, k, s) in enumerate(zip(conv_filters, conv_kernels, conv_strides)):
            x = keras.layers.Conv3D(f, tuple(k), strides=tuple(s), padding="same", name=f"conv{i + 1}")(x)
            x = keras.layers.Activation("relu", name=f"relu{i + 1}")(x)
            if spatial_dropout:
                x = keras.layers.SpatialDropout3D(spatial_dropout, name=f"spatial_dropout{i + 1}")(x)
            x = keras.layers.MaxPooling3D((1, 2, 2), name=f"pool{i + 1}")(x)
        x = FrameUnfold(name="flatten")([FrameFold(name="fold")(x), frames])
        x = bidirectional_stack(x, mask, rnn_type, rnn_units, rnn_layers, rnn_dropout, prefix="")
        # float32 logits (and CTC) under mixed precision
        logits = CTCHead(vocab_size, name="ctc_head", dtype="float32")(x, mask=mask)
        super().__init__(inputs={"frames": frames, "frame_lengths": lengths}, outputs=logits, **kwargs)
        self.config = dict(
            vocab_size=vocab_size, input_size=tuple(input_size), channels=channels,
            conv_filters=tuple(conv_filters), conv_kernels=tuple(tuple(k) for k in conv_kernels),
            conv_strides=tuple(tuple(s) for s in conv_strides), spatial_dropout=spatial_dropout,
            rnn_type=rnn_type, rnn_units=rnn_units, rnn_layers=rnn_layers, rnn_dropout=rnn_dropout,
            normalization=normalization,
        )
