"""Look at clips: a PNG contact sheet or an animated GIF of frames ``[T, H, W, C]`` (uint8)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np


def _as_uint8(frames) -> np.ndarray:
    x = np.asarray(frames)
    if x.dtype != np.uint8:
        lo, hi = float(x.min()), float(x.max())
        x = ((x - lo) / (hi - lo + 1e-8) * 255.0).round().astype(np.uint8)
    if x.ndim == 3:
        x = x[..., None]
    return x


def contact_sheet(frames, columns: int = 10, every: int = 1, label: bool = True, scale: int = 1) -> np.ndarray:
    """Tile frames into one image (frame numbers written in the corner)."""
    x = _as_uint8(frames)[::every]
    if x.shape[0] == 0:
        raise ValueError("no frames to draw")
    n, h, w, c = x.shape
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    sheet = np.zeros((rows * h, cols * w, c), np.uint8)
    for i, f in enumerate(x):
        r, k = divmod(i, cols)
        tile = f.copy()
        if label:
            cv2.putText(tile, str(i * every), (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.7, (255,) * c, 1, cv2.LINE_AA)
        sheet[r * h:(r + 1) * h, k * w:(k + 1) * w] = tile
    if scale > 1:
        sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        if sheet.ndim == 2:
            sheet = sheet[..., None]
    return sheet


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_png(frames, path: str | Path, **kwargs) -> Path:
    """Write a contact sheet of ``frames`` as PNG."""
    sheet = contact_sheet(frames, **kwargs)
    img = sheet[..., 0] if sheet.shape[-1] == 1 else cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise RuntimeError(f"{path}: PNG encoding failed")
    _atomic_write(Path(path), buf.tobytes())
    return Path(path)


def save_gif(frames, path: str | Path, fps: float = 25.0, scale: int = 1) -> Path:
    """Write ``frames`` as an animated GIF (the seeds' ``animation.gif``)."""
    from PIL import Image

    x = _as_uint8(frames)
    imgs = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in x]
    if scale > 1:
        imgs = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in imgs]
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    imgs[0].save(tmp, save_all=True, append_images=imgs[1:], duration=int(round(1000 / fps)), loop=0)
    os.replace(tmp, path)
    return path


def confusion_png(matrix, labels, path: str | Path, title: str = "") -> Path:
    """A row-normalised confusion matrix (true × predicted) with counts, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
