"""Face images straight from folders ``ROOT/<label>/*.png|jpg`` (FER2013, CK+ layouts) as ``tf.data``.

Folder names are mapped to the canonical emotion labels (``anger`` → ``angry``, …); folders
with unknown names are reported, not guessed. ``stratified_split`` holds out the same fraction
of every class with a fixed seed, so a validation split is reproducible (and can be saved as a
list of relative paths). ``leaked`` finds held-out faces whose pixels equal a training face's
(FER2013's training folder holds 1,162 exact copies: a random split puts one of a pair on each
side, and the copy is then scored as if unseen).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np


def image_items(root: str | Path, check: bool = True) -> tuple[list[str], list[str], list]:
    """``(paths, canonical labels, skipped)`` of every image under ``root/<label>/``; ``check``
    decodes each one first, so an empty or corrupt file is skipped with its reason instead of
    stopping a training or evaluation run midway."""
    from lipkeras.preprocess.sources import Skipped, discover

    items, skipped = discover(root, "images", require_transcript=False)
    paths = [i.path for i in items]
    problems = image_problems(paths) if check else [None] * len(paths)
    skipped += [Skipped(p, why) for p, why in zip(paths, problems) if why]
    return ([p for p, why in zip(paths, problems) if not why],
            [i.label for i, why in zip(items, problems) if not why], skipped)


def image_problem(path: str | Path) -> str | None:
    """Why an image file cannot be read (preprocess's reasons: empty, unreadable, corrupt), or None."""
    from lipkeras.preprocess.errors import SkipInput
    from lipkeras.preprocess.video import check_readable

    try:
        check_readable(path)
    except SkipInput as exc:
        return str(exc)
    img = _decode(path)
    if img is None:
        return "not a readable image (corrupt or unknown format)"
    # the pixels are decoded now: keep their digest, so that looking for copies (leaked) later
    # does not decode every face a second time
    _DIGESTS[_file_key(path)] = _digest_of(img, path)
    return None


def image_problems(paths: Sequence[str | Path]) -> list[str | None]:
    """``image_problem`` of each path, decoded on a few threads (OpenCV releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(image_problem, paths, chunksize=256))


def stratified_split(labels: Sequence[str], fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, held_out)``: ``fraction`` of each class (at least one if it has two or more)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    train, held = [], []
    for name in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == name)
        rng.shuffle(idx)
        n = int(round(len(idx) * fraction))
        n = max(n, 1) if len(idx) > 1 and fraction > 0 else n
        held.append(idx[:n])
        train.append(idx[n:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def _decode(path: str | Path):
    """The image's pixels in its own channels and depth (OpenCV), or None if it cannot be decoded."""
    import cv2

    try:
        return cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError, cv2.error):
        return None


def _float_rgb(img: np.ndarray) -> np.ndarray:
    """OpenCV's pixels ``[H, W(, C)]`` (BGR order, any integer depth) as float32 ``[H, W, C]`` in [0, 1],
    RGB(A) order, as ``tf.io.decode_image`` gives them."""
    import cv2

    scale = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 1.0
    if img.ndim == 2:
        img = img[..., None]
    elif img.shape[-1] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.shape[-1] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return img.astype(np.float32) / np.float32(scale)


_DIGESTS: dict[tuple, str] = {}  # (path, size, mtime) → pixel digest, filled by image_problem's decode


def _file_key(path: str | Path) -> tuple:
    st = Path(path).stat()
    return str(path), st.st_size, st.st_mtime_ns


def _digest_of(img, path) -> str:
    import hashlib

    data = repr(img.shape).encode() + img.tobytes() if img is not None else b"unreadable:" + str(path).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def pixel_digest(path: str | Path) -> str:
    """A digest of an image's decoded pixels (and shape): equal for copies saved in other files or
    encodings; an unreadable file digests its path, so it matches nothing else. A file that
    ``image_problem`` checked (unchanged since) is not decoded again."""
    try:
        key = _file_key(path)
    except OSError:
        return _digest_of(None, path)
    if key not in _DIGESTS:
        _DIGESTS[key] = _digest_of(_decode(path), path)
    return _DIGESTS[key]


def leaked(train_paths: Sequence[str], held_paths: Sequence[str]) -> np.ndarray:
    """Indices of ``held_paths`` whose pixels exactly equal some image of ``train_paths``."""
    seen = {pixel_digest(p) for p in train_paths}
    return np.array([i for i, p in enumerate(held_paths) if pixel_digest(p) in seen], dtype=int)


def to_channels(img, channels: int):
    """An image ``[H, W, C]`` with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels as
    ``channels`` (1 or 3) channels: alpha dropped, RGB to gray by luma, gray repeated."""
    import tensorflow as tf

    c = tf.shape(img)[-1]
    if channels == 1:
        return tf.cond(c >= 3, lambda: tf.image.rgb_to_grayscale(img[..., :3]), lambda: img[..., :1])
    return tf.cond(c >= 3, lambda: img[..., :3], lambda: tf.image.grayscale_to_rgb(img[..., :1]))


def image_folder_dataset(paths: Sequence[str], label_ids: Sequence[int], image_size: int = 48, channels: int = 1,
                         batch_size: int = 64, training: bool = False, seed: int | None = None, cache: bool = False,
                         augment=None):
    """Batches ``(faces [B, S, S, C] float32 in [0, 1], label ids [B])`` (or ``[B, K]`` soft targets
    when ``label_ids`` is ``[N, K]``).

    ``training`` shuffles; ``augment`` (a function on a batch of faces, e.g. the emotion stage's
    flip + cutout + rotation) is applied after batching, in ``tf.data``, never inside the model.
    """
    import tensorflow as tf

    from lipkeras.preprocess.sources import TIFF_EXTENSIONS

    labels = np.asarray(label_ids)  # class ids, or soft targets [N, K] (e.g. a teacher's probabilities)
    labels = labels.astype(np.float32) if labels.ndim == 2 else labels.astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((list(map(str, paths)), labels))

    tiff_name = ".*(" + "|".join(re.escape(e) for e in TIFF_EXTENSIONS) + ")"

    def decode_tiff(path):
        img = _decode(path.decode())
        if img is None:  # image_items(check=True) leaves such files out; a caller's own list may not
            raise ValueError(f"{path.decode()}: not a readable image (corrupt or unknown format)")
        return _float_rgb(img)

    def load(path, label):
        # decoded in its own channels (WebP has no gray mode), then made gray or RGB; 16-bit PNGs come out 8-bit
        def tf_decode():
            img = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False)
            return tf.cast(img, tf.float32) / 255.0

        def cv_decode():
            img = tf.numpy_function(decode_tiff, [path], tf.float32, stateful=False)
            return tf.ensure_shape(img, [None, None, None])

        img = tf.cond(tf.strings.regex_full_match(tf.strings.lower(path), tiff_name), cv_decode, tf_decode)
        img = to_channels(img, channels)
        img = tf.image.resize(img, [image_size, image_size], antialias=True)
        return tf.ensure_shape(img, [image_size, image_size, channels]), label

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(min(len(paths), 20000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if training and augment is not None:
        ds = ds.map(lambda x, y: (augment(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
