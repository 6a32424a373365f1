"""Speech emotion: a CRNN on log-mel spectrograms of a raw 16 kHz waveform.

``{"waveform": [B, N] float32 in [-1, 1], "lengths": [B] int32}`` → ``LogMelSpectrogram`` (masked by
the true sample counts) → ``UtteranceNormalization`` → ``SpecAugment`` (training only) → Conv2D
blocks over time × mel (BatchNorm, ReLU, max-pooling, dropout) → LSTM (masked: padded steps are
skipped) → Dense ``embedding`` → softmax over ``labels``.

The feature front end lives inside the model, so a saved or exported model takes the waveform
itself. ``embedding_model()`` gives the ``embedding_units``-d utterance embedding (the fusion
models' audio stream).
"""

from __future__ import annotations

import keras
from keras import ops

from lipkeras.layers.audio_features import LogMelSpectrogram, SpecAugment, UtteranceNormalization
from lipkeras.models.base import ConfigModel


@keras.saving.register_keras_serializable(package="lipkeras")
class PooledFrameMask(keras.layers.Layer):
    """``[lengths [B] (samples), sequence [B, T', D]]`` → bool ``[B, T']``: which pooled steps hold real audio.

    The conv blocks drop the spectrogram's Keras mask (Conv2D does not carry one), so the LSTM's
    mask is rebuilt from the sample counts: step ``t`` covers frames ``[t·pool, (t+1)·pool)`` and is
    real when any of them is. Every utterance keeps at least one step, so a clip shorter than one
    frame still gets an output.
    """

    def __init__(self, frame_length=400, hop_length=160, time_pool=1, **kwargs):
        super().__init__(**kwargs)
        self.frame_length = int(frame_length)
        self.hop_length = int(hop_length)
        self.time_pool = int(time_pool)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        lengths, sequence = inputs
        lengths = ops.reshape(ops.cast(lengths, "int32"), (-1,))
        frames = ops.maximum(0, (lengths - self.frame_length) // self.hop_length + 1)
        steps = ops.maximum(1, (frames + self.time_pool - 1) // self.time_pool)
        index = ops.arange(ops.shape(sequence)[1], dtype="int32")
        return index[None, :] < steps[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][1])

    def get_config(self):
        return {**super().get_config(), "frame_length": self.frame_length, "hop_length": self.hop_length,
                "time_pool": self.time_pool}


@keras.saving.register_keras_serializable(package="lipkeras")
class SpectrogramImage(keras.layers.Layer):
    """``[B, T, F]`` → ``[B, T, F, 1]`` for the Conv2D blocks; takes the spectrogram's mask in and passes
    none on (the convs cannot carry it; ``PooledFrameMask`` rebuilds it for the LSTM)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        self.built = True

    def call(self, features, mask=None):
        return ops.expand_dims(features, -1)

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (*input_shape, 1)


@keras.saving.register_keras_serializable(package="lipkeras")
class SpeechEmotionCRNN(ConfigModel):
    """``{"waveform": [B, N], "lengths": [B]}`` → class probabilities ``[B, len(labels)]``.

    ``time_pools``/``freq_pools`` give each conv block's pooling along time and mel; the LSTM reads
    ``N / hop / prod(time_pools)`` steps of ``filters[-1] · n_mels / prod(freq_pools)`` features.
    """

    def __init__(
        self,
        labels=("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
        sample_rate=16000,
        n_mels=64,
        frame_ms=25.0,
        hop_ms=10.0,
        filters=(16, 32, 64, 128),
        time_pools=(2, 2, 2, 1),
        freq_pools=(2, 2, 2, 2),
        conv_dropout=0.1,
        lstm_units=256,
        embedding_units=256,
        dropout=0.3,
        freq_masks=2,
        freq_mask_width=8,
        time_masks=2,
        time_mask_width=20,
        **kwargs,
    ):
        if not len(filters) == len(time_pools) == len(freq_pools):
            raise ValueError("SpeechEmotionCRNN: one time pool and one frequency pool per conv block")
        n_freq = n_mels
        for p in freq_pools:
            n_freq //= p
        if n_freq < 1:
            raise ValueError(f"SpeechEmotionCRNN: freq_pools {tuple(freq_pools)} pool {n_mels} mel bands away")
        waveform = keras.Input((None,), name="waveform")
        lengths = keras.Input((), dtype="int32", name="lengths")
        mel = LogMelSpectrogram(sample_rate=sample_rate, frame_ms=frame_ms, hop_ms=hop_ms, n_mels=n_mels,
                                name="log_mel")
        x = mel([waveform, lengths])
        x = UtteranceNormalization(name="normalization")(x)
        x = SpecAugment(freq_masks, freq_mask_width, time_masks, time_mask_width, name="spec_augment")(x)
        x = SpectrogramImage(name="as_image")(x)
        time_pool = 1
        for b, (f, tp, fp) in enumerate(zip(filters, time_pools, freq_pools)):
            x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"block{b + 1}_conv")(x)
            x = keras.layers.BatchNormalization(name=f"block{b + 1}_bn")(x)
            x = keras.layers.Activation("relu", name=f"block{b + 1}_relu")(x)
            if tp > 1 or fp > 1:
                # "same": a final partial window still yields a step, so ceil(frames / pool) steps
                x = keras.layers.MaxPooling2D((tp, fp), padding="same", name=f"block{b + 1}_pool")(x)
            if conv_dropout:
                x = keras.layers.Dropout(conv_dropout, name=f"block{b + 1}_dropout")(x)
            time_pool *= tp
        x = keras.layers.Reshape((-1, n_freq * filters[-1]), name="as_sequence")(x)
        mask = PooledFrameMask(mel.frame_length, mel.hop_length, time_pool, name="step_mask")([lengths, x])
        x = keras.layers.LSTM(lstm_units, name="lstm")(x, mask=mask)
        x = keras.layers.Dropout(dropout, name="lstm_dropout")(x)
        x = keras.layers.Dense(embedding_units, activation="relu", name="embedding")(x)
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
        probs = keras.layers.Dense(len(labels), activation="softmax", name="probabilities", dtype="float32")(x)
        super().__init__(inputs={"waveform": waveform, "lengths": lengths}, outputs=probs, **kwargs)
        self.config = dict(labels=tuple(labels), sample_rate=sample_rate, n_mels=n_mels, frame_ms=frame_ms,
                           hop_ms=hop_ms, filters=tuple(filters), time_pools=tuple(time_pools),
                           freq_pools=tuple(freq_pools), conv_dropout=conv_dropout, lstm_units=lstm_units,
                           embedding_units=embedding_units, dropout=dropout, freq_masks=freq_masks,
                           freq_mask_width=freq_mask_width, time_masks=time_masks, time_mask_width=time_mask_width)

    @property
    def labels(self) -> tuple:
        return self.config["labels"]

    @property
    def sample_rate(self) -> int:
        return self.config["sample_rate"]

    def embedding_model(self) -> keras.Model:
        """The same inputs → the ``embedding_units``-d embedding ``[B, E]`` (ReLU, before dropout); shares
        this model's weights."""
        return keras.Model(self.inputs, self.get_layer("embedding").output, name=f"{self.name}_embedding")
