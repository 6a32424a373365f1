"""Similarity warp to the reference face and the mouth / face crops.

Per frame a similarity transform (scale, rotation, translation) maps the stable landmarks
(eye corners, nose ridge) onto the reference face, whose eye centres sit at (-0.5, 0) and
(0.5, 0). Crops are defined in that reference frame: the mouth ROI is a square of side
``mouth_side`` centred on the lips of the current (smoothed) frame, the face crop a square of
side ``face_side`` at a fixed place. Each crop is one ``cv2.warpAffine`` from the source frame,
so the full frame is never warped.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from lipkeras.paths import REFERENCE_FACE
from lipkeras.preprocess import landmarks as lmk


@functools.lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """The reference face ``[478, 2]`` (mean MediaPipe shape, eye centres at (±0.5, 0))."""
    return np.load(REFERENCE_FACE).astype(np.float32)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transforms ``[..., 2, 3]`` mapping ``src [..., N, 2]`` onto ``dst [N, 2]``.

    Closed form with complex numbers: dst ≈ a·src + b, |a| the scale and arg(a) the rotation.
    """
    z = src[..., 0].astype(np.float64) + 1j * src[..., 1]
    w = dst[..., 0].astype(np.float64) + 1j * dst[..., 1]
    zm, wm = z.mean(-1, keepdims=True), w.mean(-1, keepdims=True)
    zc, wc = z - zm, w - wm
    a = (np.conj(zc) * wc).sum(-1) / np.maximum((np.abs(zc) ** 2).sum(-1), 1e-12)
    b = wm[..., 0] - a * zm[..., 0]
    m = np.empty(a.shape + (2, 3), np.float64)
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = a.real, -a.imag, b.real
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = a.imag, a.real, b.imag
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply affine ``m [..., 2, 3]`` to points ``[..., N, 2]``."""
    return np.einsum("...ij,...nj->...ni", m[..., :2], pts) + m[..., None, :, 2]


def to_reference(points: np.ndarray) -> np.ndarray:
    """Per-frame transforms ``[T, 2, 3]``: source pixels → reference-face coordinates."""
    ref = reference_face()
    idx = list(lmk.STABLE)
    return similarity(points[:, idx], ref[idx])


def roi_transforms(to_ref: np.ndarray, centers: np.ndarray, side: float, size: int) -> np.ndarray:
    """Compose source→reference with reference→ROI pixels (square of ``side`` around ``centers``)."""
    s = size / side
    m = to_ref * s
    m[:, :, 2] += size / 2.0 - s * centers
    return m


def _pyramid_level(m: np.ndarray) -> int:
    """How many 2× pyrDowns keep the warp from shrinking by more than 2× (anti-aliasing)."""
    scale = float(np.median(np.hypot(m[:, 0, 0], m[:, 1, 0])))
    level = 0
    while scale < 0.5 and level < 5:
        scale *= 2.0
        level += 1
    return level


def crop(images: list[np.ndarray], m: np.ndarray, size: int) -> np.ndarray:
    """Warp each image with its affine ``m[t]`` into a ``size × size`` crop."""
    level = _pyramid_level(m)
    out = np.empty((len(images), size, size) + images[0].shape[2:], np.uint8)
    factor = float(2**level)
    for t, img in enumerate(images):
        mt = m[t].astype(np.float64)
        if level:
            for _ in range(level):
                img = cv2.pyrDown(img)
            mt = mt.copy()
            mt[:, :2] *= factor
        out[t] = cv2.warpAffine(img, mt, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def extract_rois(frames: list[np.ndarray], points: np.ndarray, cfg, converted: bool = False) -> dict:
    """Mouth and face crops, their affines and the landmark summary for one clip.

    ``frames`` are RGB (or already in ``cfg.color`` when ``converted``); ``points`` the
    smoothed landmarks ``[T, 478, 2]`` in frame pixels.
    """
    to_ref = to_reference(points)
    ref_pts = apply(to_ref, points[:, list(lmk.SUMMARY)]).astype(np.float32)
    if cfg.color == "gray" and not converted:
        images = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    else:
        images = frames
    out: dict = {"summary": ref_pts}
    if "mouth" in cfg.rois:
        lips = apply(to_ref, points[:, list(lmk.LIPS)])
        centers = lips.mean(1)
        m = roi_transforms(to_ref, centers, cfg.mouth_side, cfg.mouth_size)
        out["mouth"] = (_channels(crop(images, m, cfg.mouth_size)), m.astype(np.float32))
    if "face" in cfg.rois:
        centers = np.tile(np.array([[0.0, cfg.face_center_y]]), (len(frames), 1))
        m = roi_transforms(to_ref, centers, cfg.face_side, cfg.face_size)
        out["face"] = (_channels(crop(images, m, cfg.face_size)), m.astype(np.float32))
    return out


def _channels(x: np.ndarray) -> np.ndarray:
    return x[..., None] if x.ndim == 3 else x
