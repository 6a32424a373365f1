"""Training-time augmentation of NumPy batches: the ``tf.data`` augmentations (``augment.py``, the
emotion stage's flip/rotation/zoom/shift/contrast/cutout/mixup) for the TensorFlow-free path.

Outside the model for the same reason as there (exports never see a random op), and outside the
trained graph for one more: Keras' random image layers inside a JAX train step turn
``jit_compile`` off, and then training crawls. Everything here is vectorised over the batch.
"""

from __future__ import annotations

import math

import numpy as np


def affine(faces: np.ndarray, degrees: np.ndarray, zoom: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``[B, H, W, C]`` float32, each face rotated by ``degrees[b]`` (counter-clockwise on screen),
    scaled by ``zoom[b]`` about its centre and moved by ``shift[b]`` = (dy, dx) pixels; bilinear,
    edges repeated (``fill_mode="nearest"``). OpenCV per face: ~10 µs each, and it releases the GIL,
    so a PyDataset's worker threads run in parallel."""
    import cv2

    b, h, w, c = faces.shape
    out = np.empty(faces.shape, np.float32)
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    for i in range(b):
        m = cv2.getRotationMatrix2D(centre, float(degrees[i]), float(zoom[i]))
        m[0, 2] += shift[i, 1]
        m[1, 2] += shift[i, 0]
        warped = cv2.warpAffine(faces[i], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i] = warped.reshape(h, w, c)
    return out


def augment_faces(faces: np.ndarray, rng: np.random.Generator, rotation: float = 0.0, zoom: float = 0.0,
                  translation: float = 0.0, contrast: float = 0.0, cutout: float = 0.0, flip: bool = True) -> np.ndarray:
    """A training batch ``[B, S, S, C]`` (uint8 or float in [0, 1]) → float32 in [0, 1], with the
    emotion stage's meanings: ``rotation`` a fraction of a full turn, ``zoom`` and ``translation``
    fractions of the size, ``contrast`` a factor range 1 ± it, ``cutout`` the largest erased
    rectangle's side as a fraction (one rectangle, filled with 0, as keras-cv's RandomCutout)."""
    x = faces.astype(np.float32) / 255.0 if faces.dtype == np.uint8 else faces.astype(np.float32)
    b, h, w, _ = x.shape
    if flip:
        mirror = rng.random(b) < 0.5
        x[mirror] = x[mirror, :, ::-1]
    if rotation or zoom or translation:
        degrees = rng.uniform(-rotation, rotation, b) * 360.0
        scale = rng.uniform(1 - zoom, 1 + zoom, b)
        shift = rng.uniform(-translation, translation, (b, 2)) * np.array([h, w])
        x = affine(x, degrees, scale, shift)
    if contrast:
        factor = rng.uniform(1 - contrast, 1 + contrast, b).astype(np.float32)[:, None, None, None]
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        x = (x - mean) * factor + mean
    if cutout:
        ch = (rng.uniform(0, cutout, b) * h).astype(int)
        cw = (rng.uniform(0, cutout, b) * w).astype(int)
        cy, cx = rng.integers(0, h, b), rng.integers(0, w, b)
        yy, xx = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
        y0, x0 = (cy - ch // 2)[:, None, None], (cx - cw // 2)[:, None, None]
        hole = (yy >= y0) & (yy < y0 + ch[:, None, None]) & (xx >= x0) & (xx < x0 + cw[:, None, None])
        x[hole] = 0.0
    return np.clip(x, 0.0, 1.0)


def mixup(faces: np.ndarray, targets: np.ndarray, alpha: float, rng: np.random.Generator):
    """mixup (Zhang et al., 2018): each face ``λ·face + (1-λ)·other`` with another face of the batch,
    ``λ ~ Beta(α, α)`` per face, and its soft target ``[B, K]`` the same blend."""
    lam = rng.beta(alpha, alpha, len(faces)).astype(np.float32)
    other = rng.permutation(len(faces))
    faces = lam[:, None, None, None] * faces + (1 - lam[:, None, None, None]) * faces[other]
    return faces, lam[:, None] * targets + (1 - lam[:, None]) * targets[other]


def padded_frames(frames: int, speed_perturbation: float) -> int:
    """The fixed time length of augmented batches: the longest a clip of ``frames`` frames gets when
    played ``speed_perturbation`` slower (one shape for every batch: no recompiling)."""
    return int(math.ceil(frames / (1.0 - speed_perturbation))) if speed_perturbation else frames


def augment_mouths(clips: np.ndarray, lengths: np.ndarray, rng: np.random.Generator, crop: int, frames: int,
                   flip: bool = True, time_masking: bool = True, speed_perturbation: float = 0.0,
                   mask_window: int = 10, mask_stride: int = 25):
    """Mouth clips ``[B, T, H, W, C]`` uint8 → ``(float32 [B, frames, crop, crop, C] in [0, 1], lengths)``:
    one random ``crop`` window per clip, a left–right flip with probability ½, speed perturbation
    (nearest frame at a random rate within ±``speed_perturbation``) and adaptive time masking (a mask
    of up to ``mask_window`` frames per ``mask_stride``, filled with the clip's mean), as ``augment.py``."""
    b, t, h, w, c = clips.shape
    out = np.zeros((b, frames, crop, crop, c), np.float32)
    new_lengths = np.zeros(b, np.int32)
    for i in range(b):
        n = int(min(lengths[i], t))
        y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
        clip = clips[i, :n, y:y + crop, x:x + crop]
        if flip and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        if speed_perturbation:
            rate = rng.uniform(1 - speed_perturbation, 1 + speed_perturbation)
            m = min(max(int(round(n / rate)), 1), frames)
            clip = clip[np.minimum((np.arange(m) * rate).astype(int), n - 1)]
            n = m
        clip = clip.astype(np.float32) / 255.0
        if time_masking and n >= mask_stride:
            mean = clip.mean()
            for _ in range(n // mask_stride):
                width = rng.integers(0, mask_window)
                start = int(rng.random() * max(n - width, 1))
                clip[start:start + width] = mean
        out[i, :n] = clip
        new_lengths[i] = n
    return out, new_lengths


def center_mouths(clips: np.ndarray, crop: int) -> np.ndarray:
    """Validation/test clips: the centre ``crop`` window, float32 in [0, 1]."""
    h, w = clips.shape[2:4]
    y, x = (h - crop) // 2, (w - crop) // 2
    return clips[:, :, y:y + crop, x:x + crop].astype(np.float32) / 255.0
