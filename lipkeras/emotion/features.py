"""Pooled clip features for the classical emotion baselines: one fixed-length vector per clip.

A clip's frames are summarised by three statistics per frame feature, in this order of blocks:
``mean``, ``std`` (population) and ``range`` (max − min) over the clip's frames (``STATS``).

Audio (:func:`audio_features`, :data:`AUDIO_FEATURES` names, 180 values at the defaults): the
waveform through the library's audio front end, :class:`~lipkeras.layers.audio_features.LogMelSpectrogram`
(25 ms frames, 10 ms hop, 64 HTK mel bands) → :class:`~lipkeras.layers.audio_features.MFCC` with
``N_MFCC`` = 20 coefficients, deltas and delta-deltas (60 per frame), not utterance-normalised
(that would erase the means and spreads being pooled). The layers themselves compute it, so a
Keras model fed waveforms sees the same numbers.

Face (:func:`face_features`, :data:`FACE_FEATURES` names, 468 values): per frame, the
``lipkeras.preprocess.landmarks.SUMMARY`` points (4 eye corners, 7 on the nose ridge, 40 on the lips,
the chin: 52 points, 104 coordinates) in reference-face units (eye centres at (−0.5, 0) and (0.5, 0): position,
size and roll of the face removed), then the Face Landmarker's 52 blendshape scores
(``lipkeras.records.schema.BLENDSHAPE_NAMES``): 156 per frame. Landmarks may come as MediaPipe's 478
pixel points (they are mapped to the reference face as ``lipkeras preprocess`` does) or as a record's
``landmarks`` summary (already there). A face image is a one-frame clip (``std`` and ``range`` 0).
"""

from __future__ import annotations

import functools

import numpy as np

from lipkeras.records.schema import BLENDSHAPE_NAMES, NUM_BLENDSHAPES

STATS = ("mean", "std", "range")
SAMPLE_RATE = 16000
N_MELS = 64
N_MFCC = 20
DELTA_ORDER = 2


def _summary():
    from lipkeras.preprocess.landmarks import SUMMARY

    return SUMMARY


def pool(frames: np.ndarray) -> np.ndarray:
    """``[T, F]`` → ``[3 F]``: mean, std and range over the frames (blocks in ``STATS`` order)."""
    x = np.asarray(frames, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"pool needs [T >= 1, F] frames, got shape {x.shape}")
    return np.concatenate([x.mean(0), x.std(0), x.max(0) - x.min(0)]).astype(np.float32)


def pooled_names(frame_names) -> tuple[str, ...]:
    """Names of :func:`pool`'s output: ``"{stat}/{frame feature}"``."""
    return tuple(f"{s}/{n}" for s in STATS for n in frame_names)


AUDIO_FRAME_FEATURES = tuple(f"{kind}{i}" for kind in ("mfcc", "delta_mfcc", "delta2_mfcc")[:DELTA_ORDER + 1]
                             for i in range(N_MFCC))
AUDIO_FEATURES = pooled_names(AUDIO_FRAME_FEATURES)


def _face_frame_names():
    pts = tuple(f"landmark{i}_{axis}" for i in _summary() for axis in "xy")
    return pts + tuple(f"blendshape_{n}" for n in BLENDSHAPE_NAMES)


FACE_FRAME_FEATURES = _face_frame_names()
FACE_FEATURES = pooled_names(FACE_FRAME_FEATURES)


@functools.lru_cache(maxsize=4)
def _front_end(sample_rate: int):
    from lipkeras.layers.audio_features import MFCC, LogMelSpectrogram

    return LogMelSpectrogram(sample_rate=sample_rate, n_mels=N_MELS), MFCC(n_mfcc=N_MFCC, delta_order=DELTA_ORDER)


def waveform_float(waveform) -> np.ndarray:
    """Mono float32 in [-1, 1]: int16 PCM is scaled by 1/32768, floats are kept."""
    w = np.asarray(waveform)
    if w.ndim != 1:
        raise ValueError(f"waveform must be mono [samples], got shape {w.shape}")
    return (w.astype(np.float32) / 32768.0) if np.issubdtype(w.dtype, np.integer) else w.astype(np.float32)


def mfcc_frames(waveform, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``[frames, 60]``: MFCCs, deltas and delta-deltas of a mono waveform (the audio front end's layers)."""
    w = waveform_float(waveform)
    mel_layer, mfcc_layer = _front_end(int(sample_rate))
    if w.shape[0] < mel_layer.frame_length:
        raise ValueError(f"waveform of {w.shape[0]} samples is shorter than one {mel_layer.frame_ms:g} ms frame "
                         f"({mel_layer.frame_length} samples at {sample_rate} Hz)")
    return np.asarray(mfcc_layer(mel_layer(w[None])))[0]


def audio_features(waveform, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Pooled MFCC (+ deltas) statistics of one clip, float32 ``[len(AUDIO_FEATURES)]`` (180)."""
    return pool(mfcc_frames(waveform, sample_rate))


def load_audio(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A media file's first audio track as mono int16 at ``sample_rate`` (``SkipInput`` names the reason)."""
    from lipkeras.preprocess.video import decode_audio

    return decode_audio(path, sample_rate)


def normalised_landmarks(landmarks) -> np.ndarray:
    """``[T, 52, 2]`` ``SUMMARY`` points in reference-face units from 478 pixel points (mapped by the
    per-frame similarity ``lipkeras preprocess`` uses) or from a record's summary (returned as is)."""
    pts = np.asarray(landmarks, np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    summary = _summary()
    if pts.ndim != 3 or pts.shape[-1] != 2 or pts.shape[1] not in (478, len(summary)):
        raise ValueError(f"landmarks must be [T, 478, 2] pixels or [T, {len(summary)}, 2] reference units, "
                         f"got shape {pts.shape}")
    if pts.shape[1] == len(summary):
        return pts.astype(np.float32)
    from lipkeras.preprocess.align import apply, to_reference

    return apply(to_reference(pts), pts[:, list(summary)]).astype(np.float32)


def face_frames(landmarks, blendshapes) -> np.ndarray:
    """``[T, 156]`` per-frame face features: normalised landmarks, then blendshape scores."""
    pts = normalised_landmarks(landmarks)
    bs = np.asarray(blendshapes, np.float32)
    if bs.ndim == 1:
        bs = bs[None]
    if bs.shape != (pts.shape[0], NUM_BLENDSHAPES):
        raise ValueError(f"blendshapes must be [T={pts.shape[0]}, {NUM_BLENDSHAPES}], got shape {bs.shape}")
    return np.concatenate([pts.reshape(pts.shape[0], -1), bs], 1)


def face_features(landmarks, blendshapes) -> np.ndarray:
    """Pooled face statistics of one clip (or image: one frame), float32 ``[len(FACE_FEATURES)]`` (468)."""
    return pool(face_frames(landmarks, blendshapes))


def upscaled_rgb(image: np.ndarray, min_side: int = 192) -> np.ndarray:
    """An RGB uint8 image at least ``min_side`` pixels on its short side (bicubic): FER2013's 48×48
    crops are too small for the Face Landmarker as they are."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    short = min(img.shape[:2])
    if short < min_side:
        scale = min_side / short
        img = cv2.resize(img, (round(img.shape[1] * scale), round(img.shape[0] * scale)),
                         interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(img)


def detect_face(landmarker, rgb: np.ndarray, timestamp_ms: int | None = None):
    """``(landmarks [478, 2], blendshapes [52])`` of the largest face from a ``FaceLandmarker`` built
    with ``blendshapes=True``, or None when there is no face."""
    pts, scores = landmarker.detect_with_blendshapes(rgb, timestamp_ms)
    if pts is None:
        return None
    if scores is None:
        raise ValueError("detect_face needs a FaceLandmarker(blendshapes=True)")
    return pts, scores


def image_face_features(landmarker, image: np.ndarray, min_side: int = 192) -> np.ndarray | None:
    """:func:`face_features` of one face image (upscaled first), or None when no face is found."""
    found = detect_face(landmarker, upscaled_rgb(image, min_side))
    return None if found is None else face_features(found[0][None], found[1][None])
