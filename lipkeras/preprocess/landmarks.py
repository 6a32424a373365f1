"""MediaPipe Face Landmarker (Tasks API, bundled model) plus gap filling and smoothing.

``detect_video`` runs the landmarker in VIDEO mode (it tracks between frames, so the face
detector runs rarely), keeps the largest face in each frame, linearly interpolates frames
where no face was found from their detected neighbours and smooths the track with a
centred moving average.

With ``blendshapes=True`` the landmarker also returns the bundled blendshapes model's 52 scores in
[0, 1] per face (``BLENDSHAPE_NAMES`` order, MediaPipe's category index order): expression
coefficients (``mouthSmileLeft``, ``browInnerUp``, ...) that ``lipkeras preprocess`` keeps per frame.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path

import numpy as np

from lipkeras._quiet import native_stderr_silenced  # (must precede the mediapipe import)
from lipkeras.paths import FACE_LANDMARKER
from lipkeras.preprocess.errors import SkipInput
from lipkeras.records.schema import BLENDSHAPE_NAMES  # noqa: F401  (the 52 scores' order)

NUM_LANDMARKS = 478

# Face-mesh indices (MediaPipe canonical topology).
RIGHT_EYE = (33, 133, 160, 159, 158, 144, 145, 153)  # the subject's right eye (image left)
LEFT_EYE = (362, 263, 387, 386, 385, 373, 374, 380)
NOSE = (168, 6, 197, 195, 5, 4, 1)
# Points that move little with speech or expression: eye corners and the nose ridge.
STABLE = (33, 133, 362, 263) + NOSE
LIPS = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
)
CHIN = (152,)
# The landmark summary stored with every clip (in reference-face coordinates).
SUMMARY = STABLE + LIPS + CHIN


def verify_model(path: str | Path = FACE_LANDMARKER) -> None:
    """Check the bundled model against its recorded sha256 (a truncated copy fails loudly)."""
    path = Path(path)
    sha_file = path.with_name(path.name + ".sha256")
    if not path.exists():
        raise FileNotFoundError(f"{path}: face landmarker model missing")
    if sha_file.exists():
        want = sha_file.read_text().split()[0]
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if want != got:
            raise RuntimeError(f"{path}: sha256 {got} does not match {want}")


@functools.lru_cache(maxsize=1)
def mediapipe_tasks():
    """``(mediapipe, BaseOptions, vision)``, imported once, and without TensorFlow when it is not loaded yet.

    MediaPipe's Tasks import TensorFlow's ``tensorflow.tools.docs`` when TensorFlow is installed
    (for its API docs only), which loads all of TensorFlow: 4.5 s and a GiB in every preprocessing
    worker. Its own fallback, a no-op, is taken by hiding that one module during the import.
    """
    hidden = "tensorflow" not in sys.modules and "tensorflow.tools.docs" not in sys.modules
    if hidden:
        sys.modules["tensorflow.tools.docs"] = None  # `from ... import` raises ModuleNotFoundError
    try:
        with native_stderr_silenced():
            import mediapipe
            from mediapipe.tasks.python import BaseOptions, vision
    finally:
        if hidden and sys.modules.get("tensorflow.tools.docs", 0) is None:
            del sys.modules["tensorflow.tools.docs"]  # a later `import tensorflow` is untouched
    return mediapipe, BaseOptions, vision


class _Task:
    """A MediaPipe vision task (``self._task``), created and closed with native stderr silenced."""

    _task = None

    def _create(self, task_class, opts) -> None:
        mediapipe = mediapipe_tasks()[0]
        self._mp_image = mediapipe.Image
        self._fmt = mediapipe.ImageFormat.SRGB
        with native_stderr_silenced():
            self._task = task_class.create_from_options(opts)

    def _image(self, rgb: np.ndarray):
        return self._mp_image(image_format=self._fmt, data=np.ascontiguousarray(rgb))

    def close(self) -> None:
        if self._task is not None:
            with native_stderr_silenced():
                self._task.close()
            self._task = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FaceLandmarker(_Task):
    """A MediaPipe Face Landmarker, VIDEO or IMAGE mode, returning pixel landmarks.

    One instance per video in VIDEO mode: the tracker's state must not leak across clips.
    """

    def __init__(self, video: bool = True, max_faces: int = 4, model_path: str | Path = FACE_LANDMARKER,
                 blendshapes: bool = False):
        _, BaseOptions, vision = mediapipe_tasks()
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=mode,
            num_faces=max_faces,
            min_face_detection_confidence=0.5,
            min_face_presence_confidence=0.5,
            min_tracking_confidence=0.5,
            output_face_blendshapes=bool(blendshapes),
        )
        self._video = video
        self.blendshapes = bool(blendshapes)
        self._create(vision.FaceLandmarker, opts)

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> np.ndarray | None:
        """Landmarks ``[478, 2]`` in pixels of the largest face, or None when there is none."""
        return self.detect_with_blendshapes(rgb, timestamp_ms)[0]

    def detect_with_blendshapes(self, rgb: np.ndarray, timestamp_ms: int | None = None):
        """``(landmarks [478, 2] in pixels, blendshape scores [52] float32)`` of the largest face;
        ``(None, None)`` when there is none, scores None when built without ``blendshapes=True``."""
        image = self._image(rgb)
        if self._video:
            result = self._task.detect_for_video(image, int(timestamp_ms or 0))
        else:
            result = self._task.detect(image)
        if not result.face_landmarks:
            return None, None
        h, w = rgb.shape[:2]
        best, best_area, best_i = None, -1.0, 0
        for i, face in enumerate(result.face_landmarks):
            pts = np.array([(p.x * w, p.y * h) for p in face], np.float32)
            span = pts.max(0) - pts.min(0)
            area = float(span[0] * span[1])
            if area > best_area:
                best, best_area, best_i = pts, area, i
        scores = None
        if self.blendshapes and result.face_blendshapes:
            cats = result.face_blendshapes[best_i]
            scores = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
            for c in cats:
                scores[c.index] = c.score
            scores = np.clip(scores, 0.0, 1.0)
        return best, scores


# Quarter turns are chosen by the bundled face detector's score: on upright GRID, LRS2, LRS3 and
# webcam clips every other turn scored at least 0.03 below the frame as it is, while clips turned
# by 90, 180 or 270 degrees scored 0.08 to 0.32 higher once turned back, at 0.97. Tight, small
# crops (FER2013's 48x48 faces) score 0.3-0.8 in every turn, their best turn often not upright:
# a turn must win by TURN_MARGIN and reach TURN_SCORE (no FER face of 288 sampled did).
TURN_MARGIN, TURN_SCORE = 0.05, 0.9


@functools.lru_cache(maxsize=4)
def _bundled(task_file: str, member: str) -> bytes:
    """One model inside a ``.task`` file (a zip of its .tflite models), read once per process."""
    import zipfile

    with zipfile.ZipFile(task_file) as bundle:
        return bundle.read(member)


class FaceDetector(_Task):
    """The face detector inside the bundled Face Landmarker (IMAGE mode): the best face's score."""

    def __init__(self, model_path: str | Path = FACE_LANDMARKER):
        _, BaseOptions, vision = mediapipe_tasks()
        self._create(vision.FaceDetector, vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=_bundled(str(model_path), "face_detector.tflite")),
            min_detection_confidence=0.2))

    def score(self, rgb: np.ndarray) -> float:
        """Detection score of the most confident face (0 when none scores 0.2)."""
        result = self._task.detect(self._image(rgb))
        return max((d.categories[0].score for d in result.detections), default=0.0)


def upright_turns(frames: list[np.ndarray]) -> int:
    """How many counter-clockwise quarter turns (``np.rot90``'s ``k``) make the face in ``frames``
    upright: a camera on its side or upside down without rotation metadata, where the landmarker
    finds no face or a false one. 0 unless a turn's mean detection score beats the frames' as
    they are by ``TURN_MARGIN`` and reaches ``TURN_SCORE``."""
    if not frames:
        return 0
    with native_stderr_silenced(), FaceDetector() as detector:  # MediaPipe's native INFO/alignment lines
        scores = np.array([[detector.score(np.rot90(f, k)) for k in range(4)] for f in frames]).mean(0)
    best = int(np.argmax(scores))
    return best if best and scores[best] - scores[0] > TURN_MARGIN and scores[best] >= TURN_SCORE else 0


def eye_distance(points: np.ndarray) -> float:
    """Distance between the eye centres of one face's ``[478, 2]`` landmarks (the face's scale)."""
    return float(np.linalg.norm(points[list(RIGHT_EYE)].mean(0) - points[list(LEFT_EYE)].mean(0)))


def motion(before: np.ndarray, after: np.ndarray, frames: int = 1) -> float:
    """Mean shift of the summary landmarks per frame between two detections ``frames`` apart, in
    inter-eye distances: head and lip motion in one number, independent of the face's size."""
    idx = list(SUMMARY)
    shift = np.linalg.norm(after[idx] - before[idx], axis=-1).mean()
    return float(shift / max(eye_distance(after), 1e-6) / max(frames, 1))


class LandmarkSchedule:
    """Which frames of a video the landmarker runs on: every ``every``-th frame while the face moves
    less than ``max_motion`` (see ``motion``) between detections, every frame while it moves faster,
    after a frame without a face, and from the start. Frames it skips are interpolated from their
    detected neighbours (``interpolate_missing``)."""

    def __init__(self, every: int = 1, max_motion: float = 0.02):
        self.every, self.max_motion = max(1, int(every)), float(max_motion)
        self._last, self._last_i, self._fast = None, -1, True

    def wanted(self, i: int) -> bool:
        if self.every == 1 or self._fast or self._last is None:
            return True
        return i - self._last_i >= self.every

    def saw(self, i: int, points: np.ndarray | None) -> None:
        """The result of detecting frame ``i`` (None: no face)."""
        if points is None:
            self._last, self._fast = None, True
            return
        if self._last is not None:
            self._fast = motion(self._last, points, i - self._last_i) > self.max_motion
        else:
            self._fast = True  # two detections decide the motion
        self._last, self._last_i = points, i


def interpolate_missing(points: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Fill frames without a face by linear interpolation (edges: nearest detected frame)."""
    T = points.shape[0]
    idx = np.flatnonzero(detected)
    if idx.size == 0:
        raise SkipInput("no face detected in any frame")
    if idx.size == T:
        return points
    flat = points.reshape(T, -1)
    out = np.empty_like(flat)
    t = np.arange(T)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t, idx, flat[idx, j])
    return out.reshape(points.shape)


def smooth(points: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` frames, edges padded by repetition."""
    if window <= 1 or points.shape[0] < 2:
        return points
    w = min(window, points.shape[0])
    left, right = (w - 1) // 2, w // 2
    padded = np.concatenate([np.repeat(points[:1], left, 0), points, np.repeat(points[-1:], right, 0)], 0)
    c = np.cumsum(padded, axis=0, dtype=np.float64)
    c = np.concatenate([np.zeros_like(c[:1]), c], 0)
    return ((c[w:] - c[:-w]) / w).astype(points.dtype)


def detect_video(frames: list[np.ndarray], fps: float, max_faces: int = 4, smooth_window: int = 5):
    """Landmarks for every frame: (smoothed ``[T, 478, 2]``, raw ``[T, 478, 2]``, detected ``[T]`` bool)."""
    T = len(frames)
    raw = np.zeros((T, NUM_LANDMARKS, 2), np.float32)
    detected = np.zeros((T,), bool)
    with FaceLandmarker(video=True, max_faces=max_faces) as lm:
        for i, rgb in enumerate(frames):
            pts = lm.detect(rgb, timestamp_ms=int(round(i * 1000.0 / fps)))
            if pts is not None:
                raw[i] = pts
                detected[i] = True
    filled = interpolate_missing(raw, detected)
    return smooth(filled, smooth_window), filled, detected
