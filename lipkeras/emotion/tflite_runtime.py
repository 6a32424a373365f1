"""Run an emotion model exported to TFLite (``lipkeras export --format tflite``) where the Keras
model would run: ``EmotionReader`` takes either. Here, not in ``lipkeras.export``, so that using a
model never imports the code that exports one (dependencies run export → emotion, one way)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lipkeras._quiet import import_tensorflow


class TFLiteFaceClassifier:
    """An emotion model exported to TFLite (``export_tflite``, float32 or int8) behind the part of
    the Keras model interface that ``EmotionReader`` uses: ``labels``, ``input_shape``,
    ``predict_on_batch`` and ``with_views`` (the test-time views of ``FaceViews``, computed
    outside the flatbuffer and averaged here). Labels come from the ``lipkeras.json`` beside it."""

    def __init__(self, path: str | Path, views: int = 1, num_threads: int | None = None):
        self.path = Path(path)
        meta_file = self.path.parent / "lipkeras.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if meta.get("kind", "emotion") != "emotion" or not meta.get("labels"):
            raise ValueError(f"{self.path}: not an emotion model (needs a lipkeras.json with its labels beside it, "
                             "as lipkeras export --format tflite writes)")
        self.meta, self.labels = meta, tuple(meta["labels"])
        self.views, self._face_views = 1, None  # with_views(n) for more
        self.name = meta.get("name", self.path.stem)
        import warnings

        with warnings.catch_warnings():  # tf.lite.Interpreter's notice that LiteRT will replace it
            warnings.simplefilter("ignore", UserWarning)
            interpreter = import_tensorflow().lite.Interpreter(model_path=str(self.path), num_threads=num_threads or os.cpu_count())
        self._run = interpreter.get_signature_runner("serving_default")
        shape = self._run.get_input_details()["faces"]["shape"]
        self.input_shape = (None, *map(int, shape[1:]))
        from lipkeras._quiet import native_stderr_silenced

        with native_stderr_silenced():  # the first run creates the XNNPACK delegate, which prints an INFO line
            self._run(faces=np.zeros((1, *self.input_shape[1:]), np.float32))
        if views != 1:
            self.views, self._face_views = views, self.with_views(views)._face_views

    def with_views(self, views: int) -> "TFLiteFaceClassifier":
        import copy

        from lipkeras.layers import FaceViews

        other = copy.copy(self)  # the same interpreter
        other.views = int(views)
        other._face_views = FaceViews(other.views) if other.views != 1 else None  # built once, not per batch
        return other

    def predict_on_batch(self, faces) -> np.ndarray:
        faces = np.asarray(faces, np.float32)
        x = faces if self.views == 1 else np.asarray(self._face_views(faces))
        probs = np.asarray(self._run(faces=x)["probabilities"])
        return probs if self.views == 1 else probs.reshape(self.views, len(faces), -1).mean(0)
