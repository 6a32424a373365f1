"""Turn one input (video, image or audio file) into one serialized record.

Per video, a single streaming pass: decode a frame → MediaPipe landmarks → keep only the
colour planes the crops need. Then interpolate + smooth the landmark track, warp and crop.
"""

from __future__ import annotations

import itertools
import time

import cv2
import numpy as np

from lipkeras.preprocess import align
from lipkeras.preprocess import landmarks as lmk
from lipkeras.preprocess import video as vid
from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.preprocess.errors import SkipInput
from lipkeras.preprocess.sources import Item
from lipkeras.records import schema


def _base(item: Item, cfg: PreprocessConfig) -> dict:
    return {
        "clip_id": item.clip_id,
        "source": item.path,
        "speaker": item.speaker,
        "split": item.split or "",
        "transcript": item.transcript,
        "label": item.label,
        "attributes": item.attributes,
        "fps": cfg.fps,
    }


def _keep(rgb: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if cfg.color == "gray" else rgb


def _finish(clip: dict, kept: list[np.ndarray], points: np.ndarray, detected: np.ndarray, cfg) -> dict:
    rois = align.extract_rois(kept, points, cfg, converted=True)
    for roi in cfg.rois:
        clip[roi], clip[f"{roi}_affine"] = rois[roi]
    clip["landmarks"] = rois["summary"]
    clip["landmark_indices"] = lmk.SUMMARY
    clip["detected"] = detected.astype(np.int64)
    clip["num_frames"] = len(kept)
    return clip


PROBE_FRAMES = 25  # the first second at 25 fps: its frames 0, 12 and 24 decide the orientation


def _turned(clip: dict, turns: int) -> dict:
    if turns:  # recorded with the clip: its crops come from the frames turned upright
        clip["attributes"] = {**clip["attributes"], "turned_degrees": 90 * turns}
    return clip


def process_video(item: Item, cfg: PreprocessConfig) -> dict:
    reader = vid.VideoReader(item.path, cfg.fps, audio=cfg.audio, audio_rate=cfg.audio_rate, max_seconds=cfg.max_seconds)
    kept, raw, found, skipped, scores = [], [], [], [], []
    frames = iter(reader)
    head = list(itertools.islice(frames, PROBE_FRAMES))
    turns = lmk.upright_turns(head[::12]) if cfg.auto_orient else 0
    schedule = lmk.LandmarkSchedule(cfg.landmark_every, cfg.landmark_max_motion)
    none = np.zeros((lmk.NUM_LANDMARKS, 2), np.float32), np.zeros(schema.NUM_BLENDSHAPES, np.float32)
    with lmk.FaceLandmarker(video=True, max_faces=cfg.max_faces, blendshapes=cfg.blendshapes) as landmarker:
        for i, rgb in enumerate(itertools.chain(head, frames)):
            if turns:
                rgb = np.ascontiguousarray(np.rot90(rgb, turns))
            pts = bs = None
            run = schedule.wanted(i)
            if run:
                pts, bs = landmarker.detect_with_blendshapes(rgb, timestamp_ms=int(round(i * 1000.0 / cfg.fps)))
                schedule.saw(i, pts)
            found.append(pts is not None)
            skipped.append(not run)
            raw.append(pts if pts is not None else none[0])
            scores.append(bs if bs is not None else none[1])
            kept.append(_keep(rgb, cfg))
    found = np.asarray(found, bool)
    if not found.any():
        raise SkipInput(f"no face detected in any of {len(kept)} frames")
    # a skipped frame follows a detected face (the schedule's rule): it counts as detected
    detected = found | np.asarray(skipped, bool)
    if detected.mean() < cfg.min_detected_fraction:
        raise SkipInput(f"face found in only {detected.mean():.0%} of frames (< {cfg.min_detected_fraction:.0%})")
    points = lmk.smooth(lmk.interpolate_missing(np.stack(raw), found), cfg.smooth_window)
    clip = _turned(_finish(_base(item, cfg), kept, points, detected, cfg), turns)
    clip["landmarked_frames"] = int(len(kept) - np.sum(skipped))
    if cfg.blendshapes:  # frames without a face: interpolated from their neighbours, like the landmarks
        clip["blendshapes"] = lmk.interpolate_missing(np.stack(scores), found)
    if cfg.audio and reader.audio is not None:
        clip["audio"], clip["audio_rate"] = reader.audio, cfg.audio_rate
    return clip


def _read_image(path: str) -> np.ndarray:
    vid.check_readable(path)
    data = np.fromfile(path, np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR_RGB) if data.size else None
    if img is None:
        raise SkipInput("not a readable image (corrupt or unknown format)")
    return img


def process_image(item: Item, cfg: PreprocessConfig) -> dict:
    rgb = _read_image(item.path)
    clip = _base(item, cfg)
    if cfg.aligned:
        # Already a face crop (e.g. FER2013 48×48): resize only, no detection.
        size = cfg.face_size
        interp = cv2.INTER_AREA if min(rgb.shape[:2]) > size else cv2.INTER_CUBIC
        face = _keep(cv2.resize(rgb, (size, size), interpolation=interp), cfg)
        face = face[None, ..., None] if face.ndim == 2 else face[None]
        sx, sy = size / rgb.shape[1], size / rgb.shape[0]
        clip["face"] = face
        clip["face_affine"] = np.array([[[sx, 0, 0], [0, sy, 0]]], np.float32)
        clip["num_frames"] = 1
        return clip
    turns = lmk.upright_turns([rgb]) if cfg.auto_orient else 0
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, turns))
    with lmk.FaceLandmarker(video=False, max_faces=cfg.max_faces, blendshapes=cfg.blendshapes) as landmarker:
        pts, bs = landmarker.detect_with_blendshapes(rgb)
    if pts is None:
        raise SkipInput("no face detected in image (pass --aligned if images are already face crops)")
    if bs is not None:
        clip["blendshapes"] = bs[None]
    return _turned(_finish(clip, [_keep(rgb, cfg)], pts[None], np.ones(1, bool), cfg), turns)


def process_audio(item: Item, cfg: PreprocessConfig) -> dict:
    clip = _base(item, cfg)
    clip["audio"], clip["audio_rate"] = vid.decode_audio(item.path, cfg.audio_rate), cfg.audio_rate
    if clip["audio"].size == 0:
        raise SkipInput("audio track is empty")
    clip["num_frames"] = 0
    return clip


PROCESSORS = {"video": process_video, "image": process_image, "audio": process_audio}


def process(item: Item, cfg: PreprocessConfig) -> tuple[str, object, dict]:
    """Worker entry: ``("ok", serialized, stats)`` or ``("skip", reason, stats)``; never raises."""
    t0 = time.perf_counter()
    try:
        clip = PROCESSORS[item.kind](item, cfg)
        data = schema.encode(clip)
        frames = int(clip.get("num_frames", 0))
        stats = {"frames": frames, "seconds": time.perf_counter() - t0,
                 "detected": int(np.sum(clip.get("detected", 0))),
                 "landmarked": int(clip.get("landmarked_frames", frames))}
        return "ok", data, stats
    except SkipInput as exc:
        return "skip", str(exc), {"seconds": time.perf_counter() - t0}
    except MemoryError:
        return "skip", "out of memory (try --max-seconds)", {"seconds": time.perf_counter() - t0}
    except Exception as exc:  # noqa: BLE001 - one bad input must not stop the run
        msg = " ".join(str(exc).split())[:200]
        return "skip", f"unexpected error: {type(exc).__name__}: {msg}", {"seconds": time.perf_counter() - t0}
