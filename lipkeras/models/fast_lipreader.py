"""FastLipReader: a CPU-efficient lip reader.

Where LipNet spends its compute on three full-resolution 3D convolutions, this model uses one
cheap 3D stem (short-range motion), then a small 2D trunk applied to every frame at once
(mouth shape), a temporal convolution and two bidirectional GRUs (sentence context), on 44×44
frames. BatchNorm everywhere lets it train at a high learning rate.
"""

from __future__ import annotations

import keras

from lipkeras.models.base import ConfigModel
from lipkeras.layers import CTCHead, FrameFold, FrameUnfold, MouthPreprocessing, SequenceMask
from lipkeras.models.lipnet import bidirectional_stack, frame_inputs


def _conv_bn_relu(x, filters, kernel, name, strides=1):
    conv = keras.layers.Conv3D if len(kernel) == 3 else keras.layers.Conv2D
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="lipkeras")
class FastLipReader(ConfigModel):
    def __init__(
        self,
        vocab_size=40,
        input_size=(44, 44),
        channels=1,
        stem_filters=32,
        stem_kernel=(3, 5, 5),
        trunk_filters=(64, 128),
        frame_features=256,
        temporal_kernel=3,
        rnn_units=128,
        rnn_layers=2,
        dropout=0.3,
        normalization="clip",
        final_pool=1,
        **kwargs,
    ):
        frames, lengths = frame_inputs(channels)
        mask = SequenceMask(name="mask")([frames, lengths])
        x = MouthPreprocessing(input_size, normalization, name="preprocess")(frames, mask=mask)
        x = _conv_bn_relu(x, stem_filters, tuple(stem_kernel), "stem", strides=(1, 2, 2))
        x = FrameFold(name="fold")(x)
        # a 2D pool of the folded frames = MaxPooling3D((1, 2, 2)), with no MaxPool3D op (absent in TFLite)
        x = keras.layers.MaxPooling2D(2, name="stem_pool")(x)
        for i, f in enumerate(trunk_filters):
            x = _conv_bn_relu(x, f, (3, 3), f"trunk{i + 1}")
            if i < len(trunk_filters) - 1:
                x = keras.layers.MaxPooling2D(2, name=f"trunk{i + 1}_pool")(x)
        if final_pool > 1:  # a larger input_size ending on the same feature grid: the same weights fit
            x = keras.layers.MaxPooling2D(final_pool, name="trunk_final_pool")(x)
        x = FrameUnfold(name="unfold")([x, frames])
        x = keras.layers.Dropout(dropout, name="frame_dropout")(x)
        x = keras.layers.Dense(frame_features, use_bias=False, name="frame_proj")(x)
        x = keras.layers.BatchNormalization(name="frame_bn")(x)
        x = keras.layers.Activation("relu", name="frame_relu")(x)
        if temporal_kernel > 1:
            x = keras.layers.Conv1D(frame_features, temporal_kernel, padding="same", name="temporal_conv")(x)
            x = keras.layers.Activation("relu", name="temporal_relu")(x)
        x = keras.layers.Dropout(dropout, name="temporal_dropout")(x)
        x = bidirectional_stack(x, mask, "gru", rnn_units, rnn_layers, dropout, prefix="")
        # float32 logits (and CTC) under mixed precision
        logits = CTCHead(vocab_size, name="ctc_head", dtype="float32")(x, mask=mask)
        super().__init__(inputs={"frames": frames, "frame_lengths": lengths}, outputs=logits, **kwargs)
        self.config = dict(
            vocab_size=vocab_size, input_size=tuple(input_size), channels=channels, stem_filters=stem_filters,
            stem_kernel=tuple(stem_kernel), trunk_filters=tuple(trunk_filters), frame_features=frame_features,
            temporal_kernel=temporal_kernel, rnn_units=rnn_units, rnn_layers=rnn_layers, dropout=dropout,
            normalization=normalization, final_pool=final_pool,
        )
