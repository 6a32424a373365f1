"""The audio front end as layers, so a model (and its export) takes a raw 16 kHz waveform.

``waveform [B, samples]`` (+ ``lengths [B]``) → :class:`LogMelSpectrogram` → ``[B, frames, n_mels]``
→ optional :class:`MFCC` (+ deltas) → :class:`UtteranceNormalization` → :class:`SpecAugment`
(training only).

Padding: :class:`LogMelSpectrogram` takes the true sample counts as an explicit second input and
*propagates a Keras mask* ``[B, frames]`` that is True only for frames lying wholly inside the real
samples. The later layers read that mask (``mask=``) and pass it on, so normalisation statistics,
deltas at the clip's end and time masks all ignore padded frames. Without lengths every frame is
real. Filterbank and DCT matrices are NumPy constants derived from the config, not weights.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def hz_to_mel(hz):
    """HTK mel scale (the one ``tf.signal.linear_to_mel_weight_matrix`` uses)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, fft_length: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular HTK mel filters ``[fft_length // 2 + 1, n_mels]``, peak 1, DC bin excluded."""
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}")
    bin_mels = hz_to_mel(np.arange(fft_length // 2 + 1) * sample_rate / fft_length)
    edges = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mels[:, None] - lower) / (center - lower)
    falling = (upper - bin_mels[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0  # the DC offset carries no pitch or formant information
    return weights.astype(np.float32)


def dct_ii_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II ``[n_in, n_out]``: ``x @ D`` == ``scipy.fft.dct(x, 2, norm="ortho")[..., :n_out]``."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    d = np.cos(np.pi * (2 * n + 1) * k / (2 * n_in)) * np.sqrt(2.0 / n_in)
    d[:, 0] /= np.sqrt(2.0)
    return d.astype(np.float32)


def _valid_lengths(x, mask):
    """Real frames per utterance ``[B]`` (int32): the mask's count, or every frame without one."""
    if mask is None:
        return ops.full((ops.shape(x)[0],), ops.shape(x)[1], dtype="int32")
    return ops.sum(ops.cast(mask, "int32"), axis=1)


@keras.saving.register_keras_serializable(package="lipkeras")
class LogMelSpectrogram(keras.layers.Layer):
    """``waveform [B, samples]`` or ``[waveform, lengths]`` → natural-log mel power ``[B, frames, n_mels]``.

    Frames are not centred (``frames = 1 + (samples - frame_length) // hop``), so frame ``t``
    covers samples ``[t * hop, t * hop + frame_length)`` exactly; with ``lengths`` (true sample
    counts) the output carries a Keras mask of the frames wholly inside the real audio, and padded
    samples are zeroed first so masked frames are deterministic. Waveforms must hold at least one
    frame (400 samples at the defaults).
    """

    def __init__(self, sample_rate=16000, frame_ms=25.0, hop_ms=10.0, fft_length=None, n_mels=64, fmin=0.0,
                 fmax=None, log_offset=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.frame_ms = float(frame_ms)
        self.hop_ms = float(hop_ms)
        self.frame_length = round(self.sample_rate * self.frame_ms / 1000)
        self.hop_length = round(self.sample_rate * self.hop_ms / 1000)
        # The next power of two keeps the FFT fast and gives 257 bins for a 400-sample window.
        self.fft_length = int(fft_length or 2 ** int(np.ceil(np.log2(self.frame_length))))
        if self.fft_length < self.frame_length:
            raise ValueError(f"fft_length {self.fft_length} < frame length {self.frame_length}")
        self.n_mels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = float(fmax) if fmax is not None else None
        self.log_offset = float(log_offset)
        # Periodic Hann, as in tf.signal / librosa.
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.frame_length) / self.frame_length)).astype(
            np.float32)
        self.filterbank = mel_filterbank(self.n_mels, self.fft_length, self.sample_rate, self.fmin,
                                         self.fmax or self.sample_rate / 2)

    @property
    def mel_center_hz(self) -> np.ndarray:
        """Centre frequency of each mel filter, in Hz."""
        edges = np.linspace(hz_to_mel(self.fmin), hz_to_mel(self.fmax or self.sample_rate / 2), self.n_mels + 2)
        return mel_to_hz(edges[1:-1])

    def frame_count(self, sample_lengths):
        """Frames wholly inside ``sample_lengths`` samples (works on ints, arrays and tensors)."""
        if isinstance(sample_lengths, (int, np.integer, np.ndarray)):
            return np.maximum(0, (np.asarray(sample_lengths) - self.frame_length) // self.hop_length + 1)
        n = ops.cast(sample_lengths, "int32")
        return ops.maximum(0, (n - self.frame_length) // self.hop_length + 1)

    def build(self, input_shape):
        self.built = True

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return inputs[0], ops.reshape(inputs[1], (-1,))
        return inputs, None

    def call(self, inputs):
        waveform, lengths = self._split(inputs)
        waveform = ops.cast(waveform, "float32")  # an STFT in float16 loses the quiet bands
        if lengths is not None:
            in_audio = ops.arange(ops.shape(waveform)[1], dtype="int32")[None, :] < ops.cast(lengths, "int32")[:, None]
            waveform = ops.where(in_audio, waveform, 0.0)
        # Framed by hand, not with ops.stft: that frames fft_length samples (window zero-padded to it),
        # which would drop the last frames and blur which samples a frame covers.
        frames = (ops.shape(waveform)[1] - self.frame_length) // self.hop_length + 1
        sample_index = (ops.arange(frames, dtype="int32")[:, None] * self.hop_length
                        + ops.arange(self.frame_length, dtype="int32")[None, :])
        framed = ops.take(waveform, ops.reshape(sample_index, (-1,)), axis=1)
        framed = ops.reshape(framed, (ops.shape(waveform)[0], frames, self.frame_length))
        real, imag = ops.rfft(framed * ops.convert_to_tensor(self.window), fft_length=self.fft_length)
        power = ops.square(real) + ops.square(imag)
        mel = ops.matmul(power, ops.convert_to_tensor(self.filterbank))
        return ops.cast(ops.log(mel + self.log_offset), self.compute_dtype)

    def compute_mask(self, inputs, previous_mask=None):
        waveform, lengths = self._split(inputs)
        if lengths is None:
            return None
        # One sample per frame (its last), so this also works on symbolic inputs of unknown length.
        last_samples = waveform[:, self.frame_length - 1::self.hop_length]
        frame_index = ops.cumsum(ops.ones_like(last_samples, dtype="int32"), axis=1) - 1
        return frame_index < self.frame_count(lengths)[:, None]

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple)) else input_shape
        samples = shape[1]
        frames = None if samples is None else (samples - self.frame_length) // self.hop_length + 1
        return (shape[0], frames, self.n_mels)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "frame_ms": self.frame_ms,
                "hop_ms": self.hop_ms, "fft_length": self.fft_length, "n_mels": self.n_mels, "fmin": self.fmin,
                "fmax": self.fmax, "log_offset": self.log_offset}


@keras.saving.register_keras_serializable(package="lipkeras")
class MFCC(keras.layers.Layer):
    """``log-mel [B, T, n_mels]`` → ``[B, T, n_mfcc * (1 + delta_order)]``: DCT-II, then deltas.

    ``delta_order`` 1 appends deltas, 2 deltas and delta-deltas (the HTK regression over
    ``±delta_width`` frames). Ends are padded by repeating the last *real* frame (from the mask),
    so a clip's deltas do not depend on how much padding follows it.
    """

    def __init__(self, n_mfcc=40, delta_order=0, delta_width=2, **kwargs):
        super().__init__(**kwargs)
        if delta_order not in (0, 1, 2):
            raise ValueError(f"delta_order must be 0, 1 or 2, got {delta_order}")
        self.n_mfcc = int(n_mfcc)
        self.delta_order = int(delta_order)
        self.delta_width = int(delta_width)
        self.supports_masking = True

    def build(self, input_shape):
        n_mels = input_shape[-1]
        if n_mels is None or n_mels < self.n_mfcc:
            raise ValueError(f"MFCC needs a static n_mels >= n_mfcc={self.n_mfcc}, got {input_shape}")
        self.dct = dct_ii_matrix(int(n_mels), self.n_mfcc)
        self.built = True

    def _delta(self, x, lengths):
        t = ops.arange(ops.shape(x)[1], dtype="int32")[None, :]
        last = ops.maximum(lengths, 1)[:, None] - 1
        total = 0.0
        def frames_at(index):  # x at index[b, t], clamped to the real frames
            index = ops.minimum(ops.maximum(index, 0), last)
            return ops.take_along_axis(x, ops.broadcast_to(index[:, :, None], ops.shape(x)), axis=1)

        for n in range(1, self.delta_width + 1):
            total = total + n * (frames_at(t + n) - frames_at(t - n))
        return total / (2.0 * sum(n * n for n in range(1, self.delta_width + 1)))

    def call(self, log_mel, mask=None):
        coeffs = ops.matmul(ops.cast(log_mel, "float32"), ops.convert_to_tensor(self.dct))
        features = [coeffs]
        if self.delta_order:
            lengths = _valid_lengths(coeffs, mask)
            for _ in range(self.delta_order):
                features.append(self._delta(features[-1], lengths))
        return ops.cast(ops.concatenate(features, axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.n_mfcc * (1 + self.delta_order))

    def get_config(self):
        return {**super().get_config(), "n_mfcc": self.n_mfcc, "delta_order": self.delta_order,
                "delta_width": self.delta_width}


@keras.saving.register_keras_serializable(package="lipkeras")
class UtteranceNormalization(keras.layers.Layer):
    """``[B, T, F]`` → per-utterance, per-feature zero mean and unit variance over the real frames.

    Removes the channel and loudness of each recording (cepstral mean/variance normalisation);
    statistics come from the unmasked frames only and padded frames are set to 0.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        self.built = True

    def call(self, features, mask=None):
        x = ops.cast(features, "float32")
        if mask is None:
            weight = ops.ones_like(x[..., :1])
        else:
            weight = ops.cast(mask, "float32")[..., None]
        count = ops.maximum(ops.sum(weight, axis=1, keepdims=True), 1.0)
        mean = ops.sum(x * weight, axis=1, keepdims=True) / count
        variance = ops.sum(ops.square(x - mean) * weight, axis=1, keepdims=True) / count
        return ops.cast((x - mean) * ops.rsqrt(variance + self.epsilon) * weight, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="lipkeras")
class SpecAugment(keras.layers.Layer):
    """``[B, T, F]`` features → the same with random time and frequency bands set to ``mask_value``.

    SpecAugment's masking (no time warping), a regulariser against relying on any one band or
    moment: ``freq_masks`` bands of width ``U[0, freq_mask_width]`` and ``time_masks`` spans of
    width ``U[0, min(time_mask_width, max_time_fraction × real length)]`` per example (the paper's
    cap ``p``, so short clips are not blanked), placed inside the real frames. Active only with
    ``training=True``; identity at inference.
    """

    def __init__(self, freq_masks=2, freq_mask_width=8, time_masks=2, time_mask_width=20, max_time_fraction=0.2,
                 mask_value=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.freq_masks = int(freq_masks)
        self.freq_mask_width = int(freq_mask_width)
        self.time_masks = int(time_masks)
        self.time_mask_width = int(time_mask_width)
        self.max_time_fraction = float(max_time_fraction)
        self.mask_value = float(mask_value)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        self.built = True

    def _bands(self, count, max_width, extent, positions):
        """``[B, N]`` bool: inside any of ``count`` random bands within ``[0, extent[b])``, each of
        width ``U[0, max_width[b]]`` (``max_width`` a float ``[B]``)."""
        hit = ops.zeros_like(positions[None, :] + ops.zeros_like(extent)[:, None], dtype="bool")
        extent_f = ops.cast(extent, "float32")
        max_width = ops.minimum(ops.floor(max_width), extent_f)
        for _ in range(count):
            u_width = keras.random.uniform(ops.shape(extent), seed=self.seed_generator)
            u_start = keras.random.uniform(ops.shape(extent), seed=self.seed_generator)
            width = ops.minimum(ops.floor(u_width * (max_width + 1)), max_width)
            start = ops.floor(u_start * (extent_f - width + 1))
            start, width = ops.cast(start, "int32"), ops.cast(width, "int32")
            hit = hit | ((positions[None, :] >= start[:, None]) & (positions[None, :] < (start + width)[:, None]))
        return hit

    def call(self, features, training=None, mask=None):
        if not training:
            return features
        shape = ops.shape(features)
        batch, frames, bins = shape[0], shape[1], shape[2]
        lengths = _valid_lengths(features, mask)
        time_width = ops.minimum(float(self.time_mask_width), self.max_time_fraction * ops.cast(lengths, "float32"))
        time_hit = self._bands(self.time_masks, time_width, lengths, ops.arange(frames, dtype="int32"))
        freq_width = ops.full((batch,), float(self.freq_mask_width), dtype="float32")
        freq_hit = self._bands(self.freq_masks, freq_width, ops.full((batch,), bins, dtype="int32"),
                               ops.arange(bins, dtype="int32"))
        hit = time_hit[:, :, None] | freq_hit[:, None, :]
        return ops.where(hit, ops.cast(self.mask_value, features.dtype), features)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "freq_masks": self.freq_masks, "freq_mask_width": self.freq_mask_width,
                "time_masks": self.time_masks, "time_mask_width": self.time_mask_width,
                "max_time_fraction": self.max_time_fraction,
                "mask_value": self.mask_value, "seed": self.seed}
