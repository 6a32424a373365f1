"""The one TFRecord schema of lipkeras: a ``tf.train.Example`` per clip, written and parsed here.

=====================  =========  ==========================================================
feature                type       content
=====================  =========  ==========================================================
clip_id                bytes      stable id, e.g. ``s1/bbaf3s`` (what split lists refer to)
source                 bytes      the input file's path
speaker, split         bytes      speaker/actor id; the split this record was written to
transcript             bytes      normalised text ('' when none)
label                  bytes      canonical emotion label ('' when none)
attributes             bytes      JSON of extra fields (all RAVDESS name fields, ...)
fps                    float      frame rate of the stored frames (25 by default)
num_frames             int64      T (0 for audio-only records)
{roi}/frames           bytes      uint8 ``[T, H, W, C]`` raw, roi in {mouth, face}
{roi}/shape            int64[3]   ``[H, W, C]``
{roi}/affine           float[6T]  per-frame 2×3 affine: source pixels → ROI pixels
landmarks/points       float      ``[T, K, 2]`` landmark summary in reference-face units
landmarks/indices      int64[K]   face-mesh indices of those K points
landmarks/detected     int64[T]   1 where MediaPipe found the face, 0 where interpolated
blendshapes/scores     float      ``[T, 52]`` Face Landmarker blendshape scores in [0, 1], columns in
                                  ``BLENDSHAPE_NAMES`` order (frames without a face interpolated
                                  like the landmarks); absent in records written without them
audio/pcm              bytes      int16 little-endian mono PCM ('' when not kept)
audio/sample_rate      int64      16000 by default
=====================  =========  ==========================================================
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

ROIS = ("mouth", "face")

# The Face Landmarker's 52 blendshapes (ARKit names), in the model's category index order: the
# columns of ``blendshapes/scores``.
BLENDSHAPE_NAMES = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft",
    "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft",
    "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)


def _bytes(values):
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values):
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def encode(clip: dict[str, Any]) -> bytes:
    """Serialise one clip (a dict as built by ``lipkeras.preprocess``) to ``tf.train.Example`` bytes."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    T = int(clip.get("num_frames", 0))
    feats = {
        "clip_id": _bytes([clip["clip_id"].encode()]),
        "source": _bytes([str(clip.get("source", "")).encode()]),
        "speaker": _bytes([str(clip.get("speaker", "")).encode()]),
        "split": _bytes([str(clip.get("split", "")).encode()]),
        "transcript": _bytes([(clip.get("transcript") or "").encode()]),
        "label": _bytes([(clip.get("label") or "").encode()]),
        "attributes": _bytes([json.dumps(clip.get("attributes") or {}, sort_keys=True).encode()]),
        "fps": _floats([clip.get("fps", 25.0)]),
        "num_frames": _ints([T]),
    }
    for roi in ROIS:
        if roi in clip:
            frames = np.ascontiguousarray(clip[roi], np.uint8)
            if frames.ndim != 4 or frames.shape[0] != T:
                raise ValueError(f"{roi} frames must be [T={T}, H, W, C], got {frames.shape}")
            feats[f"{roi}/frames"] = _bytes([frames.tobytes()])
            feats[f"{roi}/shape"] = _ints(frames.shape[1:])
            feats[f"{roi}/affine"] = _floats(clip[f"{roi}_affine"])
    if "landmarks" in clip:
        feats["landmarks/points"] = _floats(clip["landmarks"])
        feats["landmarks/indices"] = _ints(clip["landmark_indices"])
        feats["landmarks/detected"] = _ints(clip["detected"])
    if clip.get("blendshapes") is not None:
        scores = np.asarray(clip["blendshapes"], np.float32)
        if scores.shape != (T, NUM_BLENDSHAPES):
            raise ValueError(f"blendshapes must be [T={T}, {NUM_BLENDSHAPES}], got {scores.shape}")
        feats["blendshapes/scores"] = _floats(scores)
    if clip.get("audio") is not None:
        feats["audio/pcm"] = _bytes([np.asarray(clip["audio"], "<i2").tobytes()])
        feats["audio/sample_rate"] = _ints([clip.get("audio_rate", 16000)])
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def feature_spec(rois=("mouth",), audio: bool = False, landmarks: bool = False, blendshapes: bool = False) -> dict:
    """``tf.io.parse_single_example`` spec for the parts a reader needs (others are skipped)."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    s = tf.string
    spec = {
        "clip_id": tf.io.FixedLenFeature([], s),
        "source": tf.io.FixedLenFeature([], s, default_value=""),
        "speaker": tf.io.FixedLenFeature([], s, default_value=""),
        "split": tf.io.FixedLenFeature([], s, default_value=""),
        "transcript": tf.io.FixedLenFeature([], s, default_value=""),
        "label": tf.io.FixedLenFeature([], s, default_value=""),
        "attributes": tf.io.FixedLenFeature([], s, default_value="{}"),
        "fps": tf.io.FixedLenFeature([], tf.float32, default_value=25.0),
        "num_frames": tf.io.FixedLenFeature([], tf.int64),
    }
    for roi in rois:
        spec[f"{roi}/frames"] = tf.io.FixedLenFeature([], s, default_value="")
        spec[f"{roi}/shape"] = tf.io.FixedLenFeature([3], tf.int64, default_value=[0, 0, 0])
    if landmarks:
        spec["landmarks/points"] = tf.io.VarLenFeature(tf.float32)
        spec["landmarks/detected"] = tf.io.VarLenFeature(tf.int64)
    if blendshapes:
        spec["blendshapes/scores"] = tf.io.VarLenFeature(tf.float32)
    if audio:
        spec["audio/pcm"] = tf.io.FixedLenFeature([], s, default_value="")
        spec["audio/sample_rate"] = tf.io.FixedLenFeature([], tf.int64, default_value=16000)
    return spec


def parse(serialized, rois=("mouth",), audio: bool = False, landmarks: bool = False, blendshapes: bool = False) -> dict:
    """Parse one serialized example into tensors; frames come back as uint8 ``[T, H, W, C]``.

    ``blendshapes=True`` adds ``blendshapes`` float32 ``[T, 52]`` and ``has_blendshapes`` (a bool
    scalar): a record written without them reads as zeros ``[T, 52]`` with ``has_blendshapes`` False."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()

    ex = tf.io.parse_single_example(serialized, feature_spec(rois, audio, landmarks, blendshapes))
    T = tf.cast(ex["num_frames"], tf.int32)
    out = {k: ex[k] for k in ("clip_id", "source", "speaker", "split", "transcript", "label", "attributes", "fps")}
    out["num_frames"] = T
    for roi in rois:
        shape = tf.cast(ex[f"{roi}/shape"], tf.int32)
        flat = tf.io.decode_raw(ex[f"{roi}/frames"], tf.uint8)
        out[roi] = tf.reshape(flat, tf.concat([[tf.size(flat) // tf.maximum(tf.reduce_prod(shape), 1)], shape], 0))
    if landmarks:
        out["landmarks"] = tf.reshape(tf.sparse.to_dense(ex["landmarks/points"]), [T, -1, 2])
        out["detected"] = tf.sparse.to_dense(ex["landmarks/detected"])
    if blendshapes:
        scores = tf.sparse.to_dense(ex["blendshapes/scores"])
        present = tf.size(scores) > 0
        out["has_blendshapes"] = present
        out["blendshapes"] = tf.cond(present, lambda: tf.reshape(scores, [T, NUM_BLENDSHAPES]),
                                     lambda: tf.zeros([T, NUM_BLENDSHAPES], tf.float32))
    if audio:
        out["audio"] = tf.io.decode_raw(ex["audio/pcm"], tf.int16, little_endian=True)
        out["audio_rate"] = tf.cast(ex["audio/sample_rate"], tf.int32)
    return out


def decode_numpy(serialized: bytes) -> dict[str, Any]:
    """Everything in a record as Python/NumPy values (for inspection and tests, not for training).
    TensorFlow-free: ``lipkeras.records.wire`` decodes the ``tf.train.Example``."""
    from lipkeras.records.wire import parse_example

    f = parse_example(serialized)

    def b(key, default=""):
        return f[key][0].decode() if len(f.get(key, ())) else default

    T = int(f["num_frames"][0])
    out: dict[str, Any] = {
        "clip_id": b("clip_id"),
        "source": b("source"),
        "speaker": b("speaker"),
        "split": b("split"),
        "transcript": b("transcript"),
        "label": b("label"),
        "attributes": json.loads(b("attributes", "{}") or "{}"),
        "fps": float(f["fps"][0]) if len(f.get("fps", ())) else 25.0,
        "num_frames": T,
    }
    for roi in ROIS:
        if f"{roi}/frames" in f:
            shape = tuple(int(v) for v in f[f"{roi}/shape"])
            out[roi] = np.frombuffer(f[f"{roi}/frames"][0], np.uint8).reshape((T,) + shape)
            out[f"{roi}_affine"] = np.asarray(f[f"{roi}/affine"], np.float32).reshape(T, 2, 3)
    if "landmarks/points" in f:
        idx = np.asarray(f["landmarks/indices"], np.int64)
        out["landmark_indices"] = idx
        out["landmarks"] = np.asarray(f["landmarks/points"], np.float32).reshape(T, len(idx), 2)
        out["detected"] = np.asarray(f["landmarks/detected"], np.int64)
    if "blendshapes/scores" in f:
        out["blendshapes"] = np.asarray(f["blendshapes/scores"], np.float32).reshape(T, NUM_BLENDSHAPES)
    if "audio/pcm" in f:
        out["audio"] = np.frombuffer(f["audio/pcm"][0], "<i2")
        out["audio_rate"] = int(f["audio/sample_rate"][0])
    return out
