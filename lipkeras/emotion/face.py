"""Emotion from faces: a trained face model on face crops, images and videos → labels and probabilities.

A shipped model is ``saved_models/<name>/model.keras`` (an ``EmotionCNN``; its labels are in its
config) with an optional ``lipkeras.json`` giving the face framing it was trained on
(``face_side``, ``face_center_y``; FER2013's crops are tighter than lipkeras' default face ROI).
Images that are already face crops are used as they are (``aligned``); other images and every
video go through the same MediaPipe landmarks + similarity warp as ``lipkeras preprocess``.
A video's label is the mean of its frame probabilities (the design's video-level prediction).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEFAULT_EMOTION_MODEL = "fer_emotion"
# FER2013's framing in lipkeras' face coordinates, measured with MediaPipe on FER faces
# (benchmarks/emotion.py --framing: median side 2.68, centre y 0.29 over 210 faces)
FER_FACE_SIDE, FER_FACE_CENTER_Y = 2.7, 0.3


PRECISIONS = ("float32", "bfloat16")  # what models compute in (training's --precision too)


def sample_indices(frames: int, max_frames: int) -> np.ndarray:
    """Which of a clip's ``frames`` frames ``sample_faces`` keeps: at most ``max_frames``, evenly spaced."""
    if max_frames and frames > max_frames:
        return np.linspace(0, frames - 1, max_frames).astype(int)
    return np.arange(frames)


def sample_faces(faces: np.ndarray, max_frames: int) -> np.ndarray:
    """At most ``max_frames`` of a clip's faces, evenly spaced: the same number for every video."""
    if max_frames and len(faces) > max_frames:
        return faces[sample_indices(len(faces), max_frames)]
    return faces


def with_precision(model, precision: str = "float32"):
    """The same model computing in ``precision``: ``bfloat16`` rebuilds it under Keras'
    ``bfloat16`` policy (outputs stay float32: the softmax layer is float32). Its weights are
    stored in bfloat16, which is what mixed precision casts them to before every op anyway: the
    same outputs as ``mixed_bfloat16`` (tested) in half the memory and half the SavedModel. On
    CPUs with bfloat16 matrix units (AMX / AVX512-BF16) it runs about twice as fast; elsewhere it
    is slower."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "float32":
        return model
    return _rebuilt(model, "bfloat16")


def _rebuilt(model, policy: str):
    """A copy of ``model`` built under the dtype ``policy`` with the same weights (cast)."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        config = {k: v for k, v in model.get_config().items() if k != "trainable"}
        copy = type(model).from_config(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


MIN_FACE_CROP = 16  # px: the smallest side an image taken as a face crop may have (FER2013's are 48)


def for_inference(model, precision: str = "float32", views: int = 1):
    """What prediction and export run: BatchNorm folded (``EmotionCNN.folded``: same outputs,
    ~12 % faster on this CPU), averaging over ``views`` test-time views of each face
    (``EmotionCNN.with_views``: 1, 2 = + mirror, 5 = + 4 shifts, 10 = all mirrored), computing in
    ``precision``."""
    if hasattr(model, "folded"):
        model = model.folded()
    if views != 1:
        if not hasattr(model, "with_views"):
            raise ValueError(f"{model.name}: test-time views need an EmotionCNN")
        model = model.with_views(views)
    return with_precision(model, precision)


def tflite_file(name_or_path: str) -> Path | None:
    """The ``model.tflite`` named by a path (the file, or a folder holding it and no ``.keras``),
    also relative to ``saved_models/`` (e.g. ``fer_emotion/tflite/2``); ``None`` otherwise."""
    from lipkeras.lipreader import saved_models_dirs

    for c in [Path(name_or_path)] + [d / name_or_path for d in saved_models_dirs()]:
        if c.is_file() and c.suffix == ".tflite":
            return c
        if c.is_dir() and (c / "model.tflite").is_file() and not any(c.glob("*.keras")):
            return c / "model.tflite"
    return None


def calibration_of(model_path: Path, meta: dict) -> dict:
    """The ``confidence`` section ``lipkeras calibrate`` wrote: in the model's ``lipkeras.json``, or for
    an export (``NAME/tflite/N``, ``NAME/N``) in its model folder's; ``{}`` when uncalibrated."""
    if meta.get("confidence"):
        return meta["confidence"]
    for folder in (model_path.parent.parent, model_path.parent.parent.parent):
        f = folder / "lipkeras.json"
        if f.is_file():
            found = json.loads(f.read_text()).get("confidence")
            if found:
                return found
    return {}


def label_confidence(probs: np.ndarray, calibration: dict) -> dict:
    """``confidence``: the label's probability after the calibration's temperature (1: as the model
    gives it); with ``warning`` when it is under the threshold (the label is more likely wrong)."""
    t = float(calibration.get("temperature", 1.0))
    z = np.log(np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)) / t
    p = np.exp(z - z.max())
    confidence = float((p / p.sum()).max())
    out = {"confidence": round(confidence, 4)}
    threshold = float(calibration.get("threshold", 0.5))
    if confidence < threshold:
        out["warning"] = f"uncertain label: confidence {confidence:.2f} (< {threshold:.2f})"
    return out


class EmotionReader:
    """A trained emotion model, ready for faces, images and videos.

    ``name_or_path``: a ``.keras`` model (file, folder or name under ``saved_models/``) or a TFLite
    export of one (``model.tflite``, float32 or int8, e.g. ``fer_emotion/tflite/2``).
    ``views``: test-time views averaged per face (1; 2 = + mirror; 5 = + shifts; 10 = both, see
    ``FaceViews``), for images and video frames alike. ``None`` takes the model's own choice from
    its ``lipkeras.json``: ``"views"`` for images, ``"video_views"`` for videos (both 1 when
    absent; a video already averages up to ``max_frames`` frames, and each view is one more
    forward pass per frame).
    """

    def __init__(self, name_or_path: str | None = None, max_frames: int = 32, precision: str = "float32",
                 views: int | None = None):
        from lipkeras import _quiet

        _quiet.import_tensorflow()
        import keras

        import lipkeras.models  # noqa: F401  (registers the classes)
        from lipkeras.lipreader import resolve

        self.name = name_or_path or DEFAULT_EMOTION_MODEL
        self.path = tflite_file(self.name) or resolve(self.name)
        meta_file = self.path.parent / "lipkeras.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        # an export's lipkeras.json keeps the face framing under "preprocessing"
        self.meta = {**meta.get("preprocessing", {}), **meta}
        self.views = int(views if views is not None else self.meta.get("views", 1))
        self.video_views = int(views if views is not None else self.meta.get("video_views", 1))
        self.precision = precision
        if self.path.suffix == ".tflite":
            from lipkeras.emotion.tflite_runtime import TFLiteFaceClassifier

            if precision != "float32":
                raise ValueError(f"{self.path}: a TFLite model computes in the precision it was exported with "
                                 f"({self.meta.get('precision', 'float32')}); --precision {precision} does not apply")
            self._trained = TFLiteFaceClassifier(self.path)
        else:
            self._trained = keras.saving.load_model(self.path, compile=False)
        self._models: dict = {}
        self.model = self.model_for(self.views)
        self.labels = tuple(getattr(self.model, "labels", None) or self.model.get_config()["labels"])
        self.calibration = calibration_of(self.path, self.meta)
        _, self.size, _, self.channels = self.model.input_shape
        self.max_frames = max_frames

    def model_for(self, views: int):
        """The inference model averaging ``views`` test-time views (built once per count)."""
        if views not in self._models:
            if self.path.suffix == ".tflite":
                self._models[views] = self._trained.with_views(views)
            else:
                self._models[views] = for_inference(self._trained, self.precision, views)
        return self._models[views]

    def predict_faces(self, faces: np.ndarray, views: int | None = None) -> np.ndarray:
        """Probabilities ``[N, labels]`` of face crops ``[N, H, W, C]`` (uint8, or float in [0, 1]),
        each averaged over ``views`` test-time views (default: the reader's ``views``)."""
        model = self.model_for(self.views if views is None else views)
        import cv2

        faces = np.asarray(faces)
        if faces.dtype == np.uint8:
            faces = faces.astype(np.float32) / 255.0
        if faces.shape[-1] == 3 and self.channels == 1:
            faces = faces @ np.array([0.299, 0.587, 0.114], np.float32)
            faces = faces[..., None]
        if faces.shape[1:3] != (self.size, self.size):
            resized = [cv2.resize(f, (self.size, self.size), interpolation=cv2.INTER_AREA) for f in faces]
            faces = np.stack(resized).reshape(len(faces), self.size, self.size, -1)  # cv2 drops a 1-channel axis
        probs = []
        for i in range(0, len(faces), 64):
            probs.append(np.asarray(model.predict_on_batch(faces[i:i + 64].astype(np.float32))))
        return np.concatenate(probs)

    def classify_faces(self, faces: np.ndarray, source: str = "", per_frame: bool = False) -> dict:
        """Label of a clip's face frames ``[T, H, W, C]`` (sampled to ``max_frames``, probabilities averaged):
        ``frames`` counts the clip's face frames, ``frames_averaged`` the sampled ones behind the label.
        ``per_frame``: also ``frame_indices`` (the sampled frames) and ``frame_probs`` (their
        probabilities, one list per frame in ``labels`` order): the label over time."""
        indices = sample_indices(len(faces), self.max_frames)
        probs = self.predict_faces(faces[indices], views=self.video_views)
        out = self._result(source, probs) | {"frames": len(faces)}
        if per_frame:
            out |= {"frame_indices": indices.tolist(), "frame_probs": [[round(float(p), 4) for p in row] for row in probs]}
        return out

    def preprocess_config(self, aligned: bool = False):
        from lipkeras.preprocess import PreprocessConfig

        return PreprocessConfig(dataset="images" if aligned else "folder", rois=("face",), aligned=aligned,
                                face_size=self.meta.get("face_size", 112),
                                face_side=self.meta.get("face_side", FER_FACE_SIDE),
                                face_center_y=self.meta.get("face_center_y", FER_FACE_CENTER_Y), workers=1)

    def _result(self, source: str, probs: np.ndarray) -> dict:
        mean = probs.mean(0)
        out = {"input": source, "label": self.labels[int(mean.argmax())],
               "probs": {name: round(float(p), 4) for name, p in zip(self.labels, mean)}, "frames": int(len(probs)),
               "frames_averaged": int(len(probs))}
        return out | label_confidence(mean, self.calibration)

    def classify(self, path: str | Path, aligned: bool | None = None) -> dict:
        """Label of an image or a video. ``aligned=None``: an image no larger than 2× the model's input
        is taken as a face crop when the landmarker finds no face in it."""
        from lipkeras.preprocess.errors import SkipInput
        from lipkeras.preprocess.process import process_image, process_video
        from lipkeras.preprocess.sources import IMAGE_EXTENSIONS, Item

        path = Path(path)
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            item = Item(str(path), path.stem, kind="image")
            try:
                clip = process_image(item, self.preprocess_config(aligned=bool(aligned)))
            except SkipInput as no_face:
                if aligned is not None:
                    raise
                why = self._not_a_face_crop(path, str(no_face))
                if why is not None:
                    raise SkipInput(why) from None
                clip = process_image(item, self.preprocess_config(aligned=True))
            return self._result(str(path), self.predict_faces(clip["face"]))
        clip = process_video(Item(str(path), path.stem), self.preprocess_config())
        return self.classify_faces(clip["face"], str(path))

    def is_face_crop(self, path: str | Path) -> bool:
        """An image taken as a face crop as it is, by its size: at most 2× the model's input and at least
        ``MIN_FACE_CROP`` a side (and not blank). Such crops score better as they
        are than re-framed by the landmarker (300 FER validation faces, seed 0, one view: 70.0 % against
        67.7 %, measured 2026-12-05), and skipping the landmarker is what makes a folder of them fast."""
        from PIL import Image

        try:
            with Image.open(path) as img:
                size = img.size
                if not (MIN_FACE_CROP <= min(size) and max(size) <= 2 * self.size):
                    return False
                low, high = img.convert("L").getextrema()
        except Exception:  # unreadable: the per-image path reports why
            return False
        return low != high  # a blank image goes the per-image way, which says it is blank

    def classify_face_crops(self, paths: list[str], batch_size: int = 256, workers: int = 4) -> dict:
        """``{path: result or SkipInput}`` for images that are face crops already: decoded in ``workers``
        threads (OpenCV releases the GIL), classified ``batch_size`` at a time."""
        from concurrent.futures import ThreadPoolExecutor

        import cv2

        from lipkeras.preprocess.errors import SkipInput

        flag = cv2.IMREAD_GRAYSCALE if self.channels == 1 else cv2.IMREAD_COLOR

        def decode(path):
            face = cv2.imread(str(path), flag)
            if face is None:
                return SkipInput("unreadable image (corrupt or not an image)")
            if face.ndim == 2:
                face = face[..., None]
            elif self.channels == 3:
                face = face[..., ::-1]  # OpenCV's BGR → the RGB the models were trained on
            return cv2.resize(face, (self.size, self.size), interpolation=cv2.INTER_AREA).reshape(
                self.size, self.size, -1)

        out = {}
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(paths), batch_size):
                chunk = paths[start:start + batch_size]
                faces = list(pool.map(decode, chunk))
                good = [i for i, f in enumerate(faces) if not isinstance(f, Exception)]
                probs = self.predict_faces(np.stack([faces[i] for i in good])) if good else []
                for i, f in enumerate(faces):
                    out[chunk[i]] = f
                for i, p in zip(good, probs):
                    out[chunk[i]] = self._result(str(chunk[i]), p[None])
        return out

    def _not_a_face_crop(self, path: Path, no_face: str) -> str | None:
        """Why an image the landmarker found no face in (``no_face``: its reason) is not taken as a
        face crop either: that reason for a photo (larger than 2× the model's input) or an
        unreadable file, another when it is too small or blank to hold a face; ``None`` when it is
        taken as one."""
        from PIL import Image

        try:
            with Image.open(path) as img:
                size, (low, high) = img.size, img.convert("L").getextrema()
        except Exception:  # empty or corrupt: the landmarker's reason is the one to report
            return no_face
        if max(size) > 2 * self.size:
            return no_face
        if min(size) < MIN_FACE_CROP:
            return f"too small for a face ({size[0]}x{size[1]} px; a face crop needs {MIN_FACE_CROP} px a side)"
        if low == high:
            return f"blank image (every pixel {low}): no face"
        return None


def ship(model_file: str | Path, out_dir: str | Path, face_size: int = 112, face_side: float = FER_FACE_SIDE,
         face_center_y: float = FER_FACE_CENTER_Y, weights_dtype: str = "float32", views: int = 1,
         video_views: int = 1) -> Path:
    """Copy a trained emotion ``.keras`` into ``out_dir`` with its ``lipkeras.json`` (atomic writes).

    The face framing is what videos and photos are cropped with before the model sees them;
    the defaults frame faces as FER2013's crops are framed (measured, see ``FER_FACE_SIDE``).
    ``weights_dtype="float16"`` stores the weights in half precision (half the file; they load
    back as float32, so inference and fine-tuning compute in float32 as before; measured on two
    VGG-like FER models: 2 and 4 of 2,872 validation predictions changed; in the second no
    probability moved more than 0.007). ``views`` / ``video_views``: the test-time views
    ``EmotionReader`` averages per image / per video frame by default for this model (its
    ``lipkeras.json``; see ``FaceViews``).
    """
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    import keras

    import lipkeras.models  # noqa: F401  (registers the classes)
    from lipkeras.records.io import save_keras_atomic, write_json_atomic

    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"weights_dtype must be float32 or float16, got {weights_dtype!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = keras.saving.load_model(model_file, compile=False)  # drops the optimizer state
    stored = model if weights_dtype == "float32" else _rebuilt(model, weights_dtype)
    save_keras_atomic(stored, out / "model.keras")
    _, size, _, channels = model.input_shape
    write_json_atomic(out / "lipkeras.json", {
        "name": out.name, "kind": "emotion", "labels": list(model.labels), "input_size": size, "channels": channels,
        "face_size": face_size, "face_side": face_side, "face_center_y": face_center_y, "views": int(views),
        "video_views": int(video_views),
        "input": f"faces [B, {size}, {size}, {channels}] float32 in [0, 1] (mean face subtracted inside)",
        "output": "class probabilities [B, len(labels)]"})
    return out / "model.keras"
