"""Records as NumPy arrays: one ``.npz`` per data set, for training without TensorFlow.

``lipkeras records export-npz`` writes, once, what the ``tf.data`` readers would read: face images
(an image folder, split as ``--stage emotion`` splits it) or mouth clips (records, split by the id
lists or the records' own ``split`` field), as uint8 with their labels, per split. ``load_arrays``
reads such a file with NumPy alone, so the training stages run under JAX or PyTorch on a machine
that has neither TensorFlow nor MediaPipe (``python -m lipkeras.train --backend jax --data X.npz``).

Keys: ``labels`` (emotion label names) or ``vocab`` (characters), ``kind`` (``faces``/``mouths``),
and per split ``S``: ``S_x`` (faces ``[N, H, W, C]`` / mouths ``[N, T, H, W, C]`` uint8) and
``S_y`` (label ids ``[N]`` / character ids ``[N, L]``, 0-padded); mouths also ``S_lengths``,
``S_ids`` and ``S_text``. ``.npz.xz`` (the same file xz-compressed, ~25 % smaller for faces) reads
the same.
"""

from __future__ import annotations

import io
import lzma
import os
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


class ArraysError(ValueError):
    """A file or folder that cannot become (or is not) an arrays file: the message names it."""


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an export (``.npz`` or ``.npz.xz``), loaded into memory."""
    path = Path(path)
    if not path.is_file():
        raise ArraysError(f"{path}: no such arrays file (make one with `lipkeras records export-npz`)")
    try:
        raw = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
        with np.load(io.BytesIO(raw), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, lzma.LZMAError) as e:
        raise ArraysError(f"{path}: not a lipkeras arrays file ({e})") from None
    for key in [str(k) for k in arrays.pop("time_delta", [])]:  # undo save_arrays' delta coding (mod 256)
        arrays[key] = np.cumsum(arrays[key], axis=1, dtype=np.uint8)
    if "kind" not in arrays or "train_x" not in arrays:
        raise ArraysError(f"{path}: not a lipkeras arrays file (no kind / train_x)")
    return arrays


def splits_in(arrays: dict) -> list[str]:
    return [s for s in SPLITS if f"{s}_x" in arrays]


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write atomically (a hidden temp file renamed into place); ``.xz`` compresses with xz, clips
    ``[N, T, H, W, C]`` stored as differences of consecutive frames (mod 256): mouths change little
    from frame to frame, and xz then packs them in two thirds of the bytes (GRID: 37 against 55 MB)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".xz":
        clips = [k for k, v in arrays.items() if k.endswith("_x") and v.ndim == 5 and v.dtype == np.uint8]
        arrays = {**arrays, **{k: np.diff(arrays[k], axis=1, prepend=np.zeros_like(arrays[k][:, :1]))
                               for k in clips}}
        if clips:
            arrays["time_delta"] = np.array(clips)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = lzma.compress(buf.getvalue(), preset=6) if path.suffix == ".xz" else buf.getvalue()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def downsample(frames: np.ndarray, factor: int) -> np.ndarray:
    """``[..., H, W, C]`` uint8 downsampled by an integer ``factor`` with the antialiasing filter that
    ``MouthPreprocessing`` applies inside the model (the same numbers up to rounding to uint8)."""
    if factor == 1:
        return frames
    from lipkeras.layers.mouth_preprocessing import antialias_taps

    start, w = antialias_taps(factor)
    x = frames.astype(np.float32)
    for axis in (x.ndim - 3, x.ndim - 2):  # H, then W
        x = np.moveaxis(x, axis, -1)
        size = x.shape[-1]
        out = size // factor
        acc, norm = np.zeros(x.shape[:-1] + (out,), np.float32), np.zeros(out, np.float32)
        for k, wk in enumerate(w):  # taps outside the frame are dropped and the rest renormalised
            src = np.arange(out) * factor + start + k
            ok = (src >= 0) & (src < size)
            acc[..., ok] += x[..., src[ok]] * wk
            norm[ok] += wk
        x = np.moveaxis(acc / norm, -1, axis)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def export_faces(folder: str, val_fraction: float = 0.1, seed: int = 0, size: int = 48) -> dict[str, np.ndarray]:
    """An image folder (``ROOT/<label>/*``) as the emotion stage splits it: the same seeded,
    stratified validation faces, exact copies of training faces left out."""
    import cv2

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import load_split

    cfg = EmotionConfig(data=folder, val_fraction=val_fraction, seed=seed, input_size=size)
    labels, (train_paths, train_ids), (val_paths, val_ids), skipped, dropped = load_split(cfg)

    def faces(paths):
        out = np.empty((len(paths), size, size, 1), np.uint8)
        for i, p in enumerate(paths):
            img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise ArraysError(f"{p}: not a readable image")
            if img.shape != (size, size):
                img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
            out[i, ..., 0] = img
        return out

    return {"kind": np.array("faces"), "labels": np.array(labels),
            "train_x": faces(train_paths), "train_y": np.asarray(train_ids, np.int8),
            "val_x": faces(val_paths), "val_y": np.asarray(val_ids, np.int8),
            "val_dropped_copies": np.array(dropped), "skipped": np.array(len(skipped))}


def export_mouths(data: str, split_ids: dict[str, str | None] | None = None, scale: int = 1,
                  vocab=None) -> dict[str, np.ndarray]:
    """Mouth clips of the records in ``data``, per split: the clip ids in ``split_ids[S]`` (a file of
    ids) when given, else the records' own ``split`` field; frames downsampled by ``scale``."""
    from lipkeras._quiet import import_tensorflow
    from lipkeras.records import reader, schema
    from lipkeras.records.vocab import DEFAULT

    import_tensorflow()
    vocab = vocab or DEFAULT
    split_ids = split_ids or {}
    wanted = {s: set(reader.read_ids(p)) for s, p in split_ids.items() if p}
    clips: dict[str, list] = {s: [] for s in SPLITS}
    for serialized in reader.records(data).as_numpy_iterator():
        r = schema.decode_numpy(serialized)
        if "mouth" not in r or not len(r["mouth"]):
            continue
        split = next((s for s, ids in wanted.items() if r["clip_id"] in ids), None) if wanted else r["split"]
        if split in clips:
            clips[split].append(r)
    if not clips["train"]:
        raise ArraysError(f"{data}: no training clips (give --train-ids, or records written with split 'train')")
    out = {"kind": np.array("mouths"), "vocab": np.array(vocab.chars), "scale": np.array(scale)}
    for s, rs in clips.items():
        if not rs:
            continue
        T = max(len(r["mouth"]) for r in rs)
        h, w, c = downsample(rs[0]["mouth"][:1], scale).shape[1:]
        L = max(len(vocab.encode(r["transcript"])) for r in rs)
        x = np.zeros((len(rs), T, h, w, c), np.uint8)
        y = np.zeros((len(rs), max(L, 1)), np.int8)
        for i, r in enumerate(rs):
            x[i, :len(r["mouth"])] = downsample(r["mouth"], scale)
            ids = vocab.encode(r["transcript"])
            y[i, :len(ids)] = ids
        out.update({f"{s}_x": x, f"{s}_y": y, f"{s}_lengths": np.array([len(r["mouth"]) for r in rs], np.int32),
                    f"{s}_ids": np.array([r["clip_id"] for r in rs]), f"{s}_text": np.array([r["transcript"] for r in rs])})
    return out


def main(argv=None) -> int:
    """``lipkeras records export-npz``."""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="lipkeras records export-npz",
                                description="Write records or an image folder as one .npz of uint8 arrays per split "
                                            "(train without TensorFlow: python -m lipkeras.train --backend jax "
                                            "--data OUT.npz).")
    p.add_argument("data", help="a records folder (mouth clips) or an image folder ROOT/<label>/* (faces)")
    p.add_argument("out", help="output file, .npz or .npz.xz (xz-compressed)")
    p.add_argument("--kind", choices=("mouths", "faces"), default=None,
                   help="what to export (default: faces for an image folder, mouths for records)")
    p.add_argument("--train-ids", help="mouths: file of training clip ids (default: the records' split field)")
    p.add_argument("--val-ids", help="mouths: file of validation clip ids")
    p.add_argument("--test-ids", help="mouths: file of test clip ids")
    p.add_argument("--scale", type=int, default=1,
                   help="mouths: downsample frames by this integer factor with the model's own antialiasing "
                        "(2: 96² crops become 48², a quarter of the bytes)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="faces: the validation share (as --stage emotion)")
    p.add_argument("--seed", type=int, default=0, help="faces: the split's seed (as --stage emotion)")
    p.add_argument("--size", type=int, default=48, help="faces: side in pixels")
    args = p.parse_args(argv)
    from lipkeras.records.io import list_shards

    try:
        kind = args.kind
        if kind is None:
            try:
                kind = "mouths" if list_shards(args.data) else "faces"
            except (OSError, ValueError, FileNotFoundError):
                kind = "faces"
        if kind == "faces":
            arrays = export_faces(args.data, args.val_fraction, args.seed, args.size)
        else:
            arrays = export_mouths(args.data, {"train": args.train_ids, "val": args.val_ids, "test": args.test_ids},
                                   args.scale)
        save_arrays(args.out, arrays)
    except (ArraysError, FileNotFoundError, ValueError) as e:
        print(f"lipkeras records export-npz: {e}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{s} {len(arrays[f'{s}_x'])}" for s in splits_in(arrays))
    print(f"{args.out}: {kind} {counts} ({Path(args.out).stat().st_size / 2**20:.1f} MiB)")
    return 0
