"""Decode a video (and its audio track) in one pass with PyAV, resampled to a fixed frame rate.

PyAV bundles FFmpeg's libraries in its wheel, so no system ffmpeg is needed.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path

import av
import numpy as np

from lipkeras.preprocess.errors import SkipInput

VIDEO_EXTENSIONS = (".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".wmv", ".flv")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg")


@dataclasses.dataclass
class DecodedVideo:
    frames: list[np.ndarray]  # RGB uint8 [H, W, 3], already at `fps`
    fps: float
    source_fps: float
    source_frames: int
    audio: np.ndarray | None  # int16 mono at `audio_rate`, or None when there is no audio track
    audio_rate: int

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def check_readable(path: str | os.PathLike) -> None:
    """Fail early, with a clear reason, on the inputs FFmpeg reports badly."""
    p = Path(path)
    if not p.exists():
        raise SkipInput("file not found")
    if p.is_dir():
        raise SkipInput("is a directory, not a file")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise SkipInput("unreadable: permission denied") from None
    except OSError as exc:
        raise SkipInput(f"unreadable: {exc.strerror or exc}") from None
    if size == 0:
        raise SkipInput("empty file (0 bytes)")


def _open(path: str | os.PathLike):
    check_readable(path)
    try:
        return av.open(str(path), metadata_errors="ignore")
    except PermissionError:
        raise SkipInput("unreadable: permission denied") from None
    except av.error.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.EACCES:
            raise SkipInput("unreadable: permission denied") from None
        raise SkipInput(f"not a readable video (corrupt or unknown format): {_msg(exc)}") from None


def _msg(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:200]


class _Resampler:
    """Nearest-timestamp frame selection onto a fixed-rate grid (handles VFR sources)."""

    def __init__(self, fps: float, max_frames: int):
        self.dt = 1.0 / fps
        self.max_frames = max_frames
        self.emitted = 0
        self._prev: tuple[float, np.ndarray] | None = None
        self._offset: float | None = None

    def full(self) -> bool:
        return bool(self.max_frames) and self.emitted >= self.max_frames

    def push(self, t: float, img: np.ndarray) -> list[np.ndarray]:
        """Add a source frame at time ``t``; returns the output frames it completes."""
        if self._offset is None:
            self._offset = t  # streams that start late: their first frame is time zero
        t -= self._offset
        out = []
        while self._prev is not None and self.emitted * self.dt <= t and not self.full():
            tp, ip = self._prev
            target = self.emitted * self.dt
            out.append(ip if (target - tp) <= (t - target) else img)
            self.emitted += 1
        self._prev = (t, img)
        return out

    def finish(self, last_duration: float) -> list[np.ndarray]:
        """Emit the last frame for the grid points inside its display interval."""
        out = []
        if self._prev is not None:
            tp, ip = self._prev
            while self.emitted * self.dt < tp + last_duration - 1e-6 and not self.full():
                out.append(ip)
                self.emitted += 1
        return out


class VideoReader:
    """Iterate a video's frames (RGB uint8, resampled to ``fps``), demuxing audio in the same pass.

    After iteration: ``source_fps``, ``source_frames`` and ``audio`` (int16 mono or None).
    Frames are produced one at a time so long videos never sit in memory as RGB.
    """

    def __init__(self, path, fps: float = 25.0, audio: bool = False, audio_rate: int = 16000, max_seconds: float = 0.0):
        self.path, self.fps, self.want_audio, self.audio_rate = path, fps, audio, audio_rate
        self.max_frames = int(round(max_seconds * fps)) if max_seconds else 0
        self.source_fps = 0.0
        self.source_frames = 0
        self.audio: np.ndarray | None = None

    def __iter__(self):
        container = _open(self.path)
        try:
            vstreams = list(container.streams.video)
            if not vstreams:
                raise SkipInput("no video stream (audio-only file or not a video)")
            vs = vstreams[0]
            vs.thread_type = "AUTO"
            src_fps = float(vs.average_rate or vs.guessed_rate or self.fps)
            self.source_fps = src_fps
            advertised = int(vs.frames or 0)
            astream = container.streams.audio[0] if (self.want_audio and container.streams.audio) else None
            resampler = _Resampler(self.fps, self.max_frames)
            aud = _AudioCollector(self.audio_rate) if astream is not None else None
            streams = [vs] + ([astream] if astream is not None else [])
            n_src = 0
            try:
                for packet in container.demux(*streams):
                    if packet.stream.type == "video":
                        if resampler.full():
                            if aud is None:
                                break
                            continue
                        for frame in packet.decode():
                            t = float(frame.time) if frame.time is not None else n_src / src_fps
                            n_src += 1
                            self.source_frames = n_src
                            yield from resampler.push(t, _upright(frame))
                    elif aud is not None:
                        for frame in packet.decode():
                            aud.push(frame)
            except av.error.FFmpegError as exc:
                if n_src == 0:
                    raise SkipInput(f"corrupt video: no frame could be decoded ({_msg(exc)})") from None
                raise SkipInput(f"truncated or corrupt video: decoding failed after {n_src} frames ({_msg(exc)})") from None
            if n_src == 0:
                raise SkipInput("no decodable video frames (empty or truncated video)")
            if advertised >= 10 and n_src < 0.5 * advertised and not self.max_frames:
                raise SkipInput(f"truncated video: decoded {n_src} of {advertised} frames")
            yield from resampler.finish(1.0 / src_fps if src_fps > 0 else 1.0 / self.fps)
            if aud is not None:
                self.audio = aud.result()
        finally:
            container.close()


def _upright(frame) -> np.ndarray:
    """RGB array of a frame, turned by its display matrix (phones record portrait video sideways)."""
    img = frame.to_ndarray(format="rgb24")
    try:
        rotation = frame.rotation  # degrees counterclockwise, from the display-matrix side data
    except (AttributeError, ValueError):
        return img
    k = int(round((rotation or 0) / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def duration_seconds(path: str | os.PathLike) -> float:
    """A video's length as its container states it, without decoding it (0.0 when it states none);
    raises ``SkipInput`` naming why a file is no readable video. For refusing long inputs early."""
    container = _open(path)
    try:
        if not container.streams.video:
            raise SkipInput("no video stream (audio-only file or not a video)")
        if container.duration:
            return container.duration / av.time_base
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        return 0.0
    finally:
        container.close()


def check_decodable(path: str | os.PathLike) -> None:
    """Decode every frame (no landmarks, nothing kept): raises ``SkipInput`` naming why a video is
    corrupt or truncated. For inputs about to be skipped for another reason, so that a broken
    file is reported as broken rather than as, say, lacking a transcript."""
    for _ in VideoReader(path, fps=5.0):  # a low output rate: every source frame is still decoded
        pass


def decode(
    path: str | os.PathLike,
    fps: float = 25.0,
    audio: bool = False,
    audio_rate: int = 16000,
    max_seconds: float = 0.0,
) -> DecodedVideo:
    """Decode video frames (RGB, resampled to ``fps``) and optionally the audio (mono int16)."""
    reader = VideoReader(path, fps, audio, audio_rate, max_seconds)
    frames = list(reader)
    return DecodedVideo(frames, fps, reader.source_fps, reader.source_frames, reader.audio, audio_rate)


class _AudioCollector:
    def __init__(self, rate: int):
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        self.chunks: list[np.ndarray] = []

    def push(self, frame) -> None:
        for out in self.resampler.resample(frame):
            self.chunks.append(out.to_ndarray().reshape(-1))

    def result(self) -> np.ndarray:
        for out in self.resampler.resample(None):  # flush
            self.chunks.append(out.to_ndarray().reshape(-1))
        if not self.chunks:
            return np.zeros((0,), np.int16)
        return np.concatenate(self.chunks).astype(np.int16, copy=False)


def decode_audio(path: str | os.PathLike, rate: int = 16000) -> np.ndarray:
    """Decode the first audio track of any media file to mono int16 at ``rate``."""
    container = _open(path)
    try:
        if not container.streams.audio:
            raise SkipInput("no audio stream")
        collector = _AudioCollector(rate)
        try:
            for frame in container.decode(audio=0):
                collector.push(frame)
        except av.error.FFmpegError as exc:
            raise SkipInput(f"truncated or corrupt audio ({_msg(exc)})") from None
        return collector.result()
    finally:
        container.close()
