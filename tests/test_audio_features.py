"""Tiny-shape tests of the audio front end: 16 kHz waveforms of 0.1–0.15 s (8–13 frames), 32–64 mels."""

import os
import subprocess
import sys
import wave

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()

import keras
import scipy.fft
from conftest import REPO, SHARED_DATA

from lipkeras.layers import MFCC, LogMelSpectrogram, SpecAugment, UtteranceNormalization
from lipkeras.layers.audio_features import mel_filterbank

SR = 16000


def _noise(batch=2, samples=1600, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, samples)).astype("float32")


def _sine(hz, samples=1600):
    return np.sin(2 * np.pi * hz * np.arange(samples) / SR).astype("float32")[None]


def _delta_reference(x, width=2):
    """HTK deltas of ``x [T, F]`` with the ends padded by repetition."""
    padded = np.concatenate([np.repeat(x[:1], width, 0), x, np.repeat(x[-1:], width, 0)])
    t = len(x)
    num = sum(n * (padded[width + n:width + n + t] - padded[width - n:width - n + t]) for n in range(1, width + 1))
    return num / (2 * sum(n * n for n in range(1, width + 1)))


def test_shapes_and_frame_count():
    lm = LogMelSpectrogram()
    out = lm(_noise())  # 25 ms window, 10 ms hop: 1 + (1600 - 400) // 160 frames
    assert out.shape == (2, 8, 64) == lm.compute_output_shape((2, 1600))
    assert lm.frame_length == 400 and lm.hop_length == 160 and lm.fft_length == 512
    assert lm.frame_count(1600) == 8 and lm.frame_count(399) == 0
    for order, width in [(0, 40), (1, 80), (2, 120)]:
        mfcc = MFCC(delta_order=order)
        assert mfcc(out).shape == (2, 8, width) == mfcc.compute_output_shape(out.shape)


def test_log_mel_matches_numpy_reference_and_tf_filterbank():
    import tensorflow as tf

    lm = LogMelSpectrogram(n_mels=32, fmin=50.0, fmax=7600.0)
    wav = _noise(1, 1600)[0]
    ours = np.asarray(lm(wav[None]))[0]
    frames = np.stack([wav[i * 160:i * 160 + 400] for i in range(8)])
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    power = np.abs(np.fft.rfft(frames * hann, 512)) ** 2
    expected = np.log(power @ lm.filterbank + 1e-6)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    tf_bank = tf.signal.linear_to_mel_weight_matrix(32, 257, SR, 50.0, 7600.0).numpy()
    np.testing.assert_allclose(mel_filterbank(32, 512, SR, 50.0, 7600.0), tf_bank, atol=1e-5)


@pytest.mark.parametrize("hz", [440.0, 1000.0, 3000.0])
def test_sine_peaks_in_the_mel_bin_centred_nearest_its_frequency(hz):
    lm = LogMelSpectrogram()
    energy = np.asarray(lm(_sine(hz)))[0].mean(0)
    assert int(np.argmax(energy)) == int(np.argmin(np.abs(lm.mel_center_hz - hz)))


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel():
    log_mel = np.asarray(LogMelSpectrogram()(_noise()))
    ours = np.asarray(MFCC(n_mfcc=40)(log_mel))
    reference = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=-1)[..., :40]
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-3)


def test_deltas_match_the_htk_regression_and_ignore_padding():
    log_mel = np.asarray(LogMelSpectrogram(n_mels=32)(_noise(1, 2400)))  # 13 frames
    mfcc = MFCC(n_mfcc=13, delta_order=2)
    full = np.asarray(mfcc(log_mel))[0]
    c = full[:, :13]
    np.testing.assert_allclose(full[:, 13:26], _delta_reference(c), atol=1e-4)
    np.testing.assert_allclose(full[:, 26:], _delta_reference(_delta_reference(c)), atol=1e-4)
    # The first 9 frames alone, or followed by 4 masked frames of junk: the same features.
    short = np.asarray(mfcc(log_mel[:, :9]))[0]
    junk = log_mel.copy()
    junk[:, 9:] = 100.0
    masked = np.asarray(mfcc(junk, mask=np.arange(13)[None] < 9))[0]
    np.testing.assert_allclose(masked[:9], short, atol=1e-4)


def _front_end(**spec_augment):
    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = LogMelSpectrogram(n_mels=32)([waveform, lengths])
    x = MFCC(n_mfcc=13, delta_order=2)(x)
    x = UtteranceNormalization()(x)
    x = SpecAugment(**spec_augment)(x)
    return waveform, lengths, x


def test_padded_audio_is_masked_and_normalisation_uses_real_frames_only():
    waveform, lengths, features = _front_end()
    model = keras.Model([waveform, lengths], [features, features._keras_mask])
    clip = _noise(1, 1600)
    padded = np.concatenate([clip, 50 * _noise(1, 800, seed=1)], axis=1)  # loud junk after the clip
    alone, alone_mask = (np.asarray(t) for t in model([clip, np.array([1600])]))
    both, mask = (np.asarray(t) for t in model([np.concatenate([padded, padded]), np.array([1600, 2400])]))
    assert alone_mask.all() and mask[0].tolist() == [True] * 8 + [False] * 5 and mask[1].all()
    np.testing.assert_allclose(both[0, :8], alone[0], atol=1e-4)
    assert np.all(both[0, 8:] == 0.0)
    np.testing.assert_allclose(alone[0].mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(alone[0].std(0), 1.0, atol=1e-2)


def test_spec_augment_is_identity_at_inference_and_masks_in_training():
    features = np.random.default_rng(0).random((4, 50, 32)).astype("float32") + 1.0  # no zeros of its own
    layer = SpecAugment(freq_mask_width=6, time_mask_width=8, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(features)), features)
    np.testing.assert_array_equal(np.asarray(layer(features, training=False)), features)
    out = np.asarray(layer(features, training=True))
    dropped = out == 0.0
    assert dropped.any() and np.all(out[~dropped] == features[~dropped])
    # Whole bands: a dropped cell lies on a fully dropped frame or a fully dropped mel bin.
    band = dropped.all(axis=2, keepdims=True) | dropped.all(axis=1, keepdims=True)
    assert np.array_equal(dropped, np.broadcast_to(band, dropped.shape))
    # Time masks stay inside the real frames (mask: the first 20).
    masked = np.asarray(SpecAugment(freq_masks=0, time_mask_width=8, max_time_fraction=1.0, seed=5)(
        features, training=True, mask=np.arange(50)[None].repeat(4, 0) < 20))
    assert (masked[:, :20] == 0).any() and np.all(masked[:, 20:] == features[:, 20:])


@pytest.mark.parametrize("layer", [
    LogMelSpectrogram(n_mels=40, fmin=20.0, fmax=7000.0, frame_ms=20.0),
    MFCC(n_mfcc=20, delta_order=1, delta_width=3),
    UtteranceNormalization(epsilon=1e-3),
    SpecAugment(freq_masks=1, time_masks=3, time_mask_width=5, max_time_fraction=0.5, seed=7),
])
def test_get_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_keras_save_load_parity_from_a_raw_waveform(tmp_path):
    waveform, lengths, x = _front_end(seed=1)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model([waveform, lengths], outputs)
    wav = _noise(2, 2400)
    wav[1, 1800:] = 0.0  # the second clip is 1800 samples, zero-padded
    inputs = [wav, np.array([2400, 1800])]
    path = tmp_path / "front_end.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(inputs)), np.asarray(model(inputs)), atol=1e-5)


def test_traces_for_a_waveform_signature_of_unknown_batch_and_length():
    import tensorflow as tf

    waveform, lengths, x = _front_end()
    model = keras.Model([waveform, lengths], keras.layers.GlobalAveragePooling1D()(x))
    serve = tf.function(lambda w, n: model([w, n]), input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.int32)])
    wav, n = _noise(2, 2400), np.array([2400, 1600])
    np.testing.assert_allclose(np.asarray(serve(wav, n)), np.asarray(model([wav, n])), atol=1e-5)
    assert serve(wav[:, :1000], np.array([1000, 900])).shape == (2, 39)


def test_jax_backend_gives_the_same_features(tmp_path):
    pytest.importorskip("jax")
    wav, lengths = _noise(2, 2400), np.array([2400, 1600])
    np.save(tmp_path / "wav.npy", wav)
    script = (
        "import sys, numpy as np\n"
        "from lipkeras.layers.audio_features import LogMelSpectrogram, MFCC, UtteranceNormalization\n"
        "wav = np.load(sys.argv[1]); lengths = np.array([2400, 1600])\n"
        "lm = LogMelSpectrogram(n_mels=32); mask = lm.compute_mask([wav, lengths])\n"
        "x = UtteranceNormalization()(MFCC(13, delta_order=2)(lm([wav, lengths]), mask=mask), mask=mask)\n"
        "np.save(sys.argv[2], np.asarray(x))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "wav.npy"), str(tmp_path / "out.npy")],
                   env=env, check=True, capture_output=True, timeout=120)
    lm = LogMelSpectrogram(n_mels=32)
    mask = lm.compute_mask([wav, lengths])
    tf_out = UtteranceNormalization()(MFCC(13, delta_order=2)(lm([wav, lengths]), mask=mask), mask=mask)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), np.asarray(tf_out), atol=1e-3)


def test_real_ravdess_clip_gives_finite_features():
    clips = sorted((SHARED_DATA / "ravdess_speech").glob("Actor_01/*.wav"))
    if not clips:
        pytest.skip(f"RAVDESS speech not available under {SHARED_DATA}")
    with wave.open(str(clips[0])) as f:
        assert f.getframerate() == SR and f.getsampwidth() == 2
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2").reshape(-1, f.getnchannels())
    audio = (pcm.mean(1) / 32768.0).astype("float32")[None]
    log_mel = LogMelSpectrogram()(audio)
    features = np.asarray(UtteranceNormalization()(MFCC(delta_order=2)(log_mel)))
    assert features.shape == (1, 1 + (audio.shape[1] - 400) // 160, 120) and np.isfinite(features).all()
