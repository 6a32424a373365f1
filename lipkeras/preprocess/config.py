"""Typed configuration of a preprocessing run (saved verbatim in ``manifest.json``)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

DATASETS = ("grid", "folder", "ravdess", "cremad", "images")
COLORS = ("gray", "rgb")
ROIS = ("mouth", "face")


@dataclasses.dataclass
class PreprocessConfig:
    """Everything that decides what ends up in the records.

    Geometry is expressed in units of the reference face, whose eye centres sit at
    (-0.5, 0) and (0.5, 0): ``mouth_side=1.0`` is a square as wide as the distance
    between the eyes, centred on the (smoothed) lips.
    """

    dataset: str = "folder"
    fps: float = 25.0
    rois: tuple[str, ...] = ("mouth", "face")
    mouth_size: int = 96
    mouth_side: float = 1.3
    face_size: int = 112
    face_side: float = 2.6
    face_center_y: float = 0.6
    color: str = "gray"
    max_faces: int = 4
    smooth_window: int = 5
    # Landmarks on every `landmark_every`-th frame of a video while the face moves less than
    # `landmark_max_motion` (mean landmark shift per frame, in inter-eye distances); frames in
    # between are interpolated. Detection is most of preprocessing's time; 1 detects every frame.
    landmark_every: int = 2
    landmark_max_motion: float = 0.02
    min_detected_fraction: float = 0.0
    max_seconds: float = 0.0
    audio: bool = False
    audio_rate: int = 16000
    aligned: bool = False
    blendshapes: bool = True  # keep the Face Landmarker's 52 blendshape scores per frame (videos, images)
    auto_orient: bool = True  # turn sideways or upside-down videos/photos upright (face detector probe)
    shard_size: int = 100
    compression: str = "gzip"
    # Splits: at most one of list / speakers / ratio decides; none puts everything in `split_name`.
    split_name: str = "all"
    split_list: str | None = None
    val_speakers: tuple[str, ...] = ()
    test_speakers: tuple[str, ...] = ()
    split_ratio: tuple[float, ...] = ()
    seed: int = 0
    require_transcript: bool | None = None
    workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.color not in COLORS:
            raise ValueError(f"color must be one of {COLORS}, got {self.color!r}")
        self.rois = tuple(self.rois)
        bad = [r for r in self.rois if r not in ROIS]
        if bad or not self.rois:
            raise ValueError(f"rois must be a non-empty subset of {ROIS}, got {self.rois!r}")
        if self.compression not in ("gzip", "none"):
            raise ValueError(f"compression must be 'gzip' or 'none', got {self.compression!r}")
        if self.fps <= 0 or self.mouth_size < 8 or self.face_size < 8:
            raise ValueError("fps must be > 0 and ROI sizes at least 8 pixels")
        if self.smooth_window < 1:
            raise ValueError("smooth_window must be >= 1")
        if int(self.landmark_every) < 1 or self.landmark_max_motion < 0:
            raise ValueError("landmark_every must be >= 1 and landmark_max_motion >= 0")
        self.landmark_every = int(self.landmark_every)
        if self.split_ratio:
            r = tuple(float(x) for x in self.split_ratio)
            if len(r) not in (2, 3) or any(x < 0 for x in r) or abs(sum(r) - 1.0) > 1e-6:
                raise ValueError(f"split_ratio must be 2 or 3 non-negative numbers summing to 1, got {r}")
            self.split_ratio = r
        self.val_speakers = tuple(str(s) for s in self.val_speakers)
        self.test_speakers = tuple(str(s) for s in self.test_speakers)
        if self.dataset == "ravdess" and not (self.split_list or self.val_speakers or self.test_speakers
                                              or self.split_ratio):
            # the design's actor split: RAVDESS actors 19-20 validate, 21-24 test
            self.val_speakers, self.test_speakers = ("19", "20"), ("21", "22", "23", "24")
        if self.require_transcript is None:
            # Lip-reading datasets need text; emotion datasets need labels instead.
            self.require_transcript = self.dataset in ("grid", "folder")
        self.workers = max(1, int(self.workers))
        self.shard_size = max(1, int(self.shard_size))

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def content_dict(self) -> dict[str, Any]:
        """The fields that change record contents (resuming requires them to match)."""
        d = self.to_dict()
        for k in ("workers",):
            d.pop(k)
        return d
