"""Emotion from a video with sound: the audio-visual model (``saved_models/av_emotion``, an
``AVEmotionModel``) on the speaker's face key frames and voice → per-stream and fused probabilities.

Faces go through the same MediaPipe landmarks + similarity warp as ``EmotionReader`` (the framing in
the model's ``lipkeras.json``), the 12 key frames picked by ``lipkeras.models.av_emotion.key_frames``
as in training; the audio is the video's first audio track at 16 kHz (``preprocess.video``), its centred
``max_seconds`` window (the speech stream's own, as trained).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEFAULT_AV_MODEL = "av_emotion"


def has_audio(path: str | Path) -> bool:
    """Whether a media file has an audio track (unreadable files raise ``SkipInput``)."""
    from lipkeras.preprocess.video import _open

    container = _open(path)
    try:
        return bool(container.streams.audio)
    finally:
        container.close()


def to_model_faces(faces: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Face crops ``[..., H, W, C]`` (uint8 or float in [0, 1]) → float32 ``[..., size, size, channels]``."""
    import cv2

    faces = np.asarray(faces)
    lead = faces.shape[:-3]
    flat = faces.reshape((-1,) + faces.shape[-3:])
    if flat.dtype == np.uint8:
        flat = flat.astype(np.float32) / 255.0
    if flat.shape[-1] == 3 and channels == 1:
        flat = (flat @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    if flat.shape[1:3] != (size, size):
        flat = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, -1)
                         for f in flat])
    return flat.astype(np.float32).reshape(lead + (size, size, channels))



class AVEmotionReader:
    """A trained audio-visual emotion model, ready for videos with an audio track."""

    def __init__(self, name_or_path: str | None = None):
        from lipkeras import _quiet

        _quiet.import_tensorflow()
        import keras

        import lipkeras.models  # noqa: F401  (registers the classes)
        from lipkeras.lipreader import resolve

        self.name = name_or_path or DEFAULT_AV_MODEL
        self.path = resolve(self.name)
        meta_file = self.path.parent / "lipkeras.json"
        self.meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        self.model = keras.saving.load_model(self.path, compile=False)
        if not hasattr(self.model, "streams_model"):
            raise ValueError(f"{self.path}: not an audio-visual emotion model (AVEmotionModel)")
        self.streams = self.model.streams_model()
        self.labels = tuple(self.model.labels)
        self.size, self.channels = self.model.face_input_size
        self.frames = self.model.key_frame_count
        self.sample_rate = int(self.meta.get("sample_rate", 16000))
        self.max_seconds = float(self.meta.get("max_seconds", 0.0))

    def preprocess_config(self):
        from lipkeras.emotion.face import FER_FACE_CENTER_Y, FER_FACE_SIDE
        from lipkeras.preprocess import PreprocessConfig

        return PreprocessConfig(dataset="folder", rois=("face",), audio=True, audio_rate=self.sample_rate,
                                face_size=self.meta.get("face_size", 112),
                                face_side=self.meta.get("face_side", FER_FACE_SIDE),
                                face_center_y=self.meta.get("face_center_y", FER_FACE_CENTER_Y), workers=1)

    def classify_clip(self, faces: np.ndarray, audio: np.ndarray, source: str = "") -> dict:
        """Fused and per-stream labels of a clip's face frames ``[T, H, W, C]`` and int16 (or float) audio."""
        from lipkeras.models.av_emotion import key_frames
        from lipkeras.records.audio import centred

        wave = np.asarray(audio)
        wave = wave.astype(np.float32) / 32768.0 if wave.dtype == np.int16 else wave.astype(np.float32)
        wave = centred(wave, int(self.max_seconds * self.sample_rate))
        if len(wave) < 400:
            from lipkeras.preprocess.errors import SkipInput

            raise SkipInput(f"audio track too short ({len(wave)} samples; one 25 ms frame needs 400)")
        x = {"waveform": wave[None], "lengths": np.array([len(wave)], np.int32),
             "faces": to_model_faces(key_frames(faces, self.frames), self.size, self.channels)[None]}
        out = {k: np.asarray(v)[0] for k, v in self.streams.predict_on_batch(x).items()}
        fused = out["probabilities"]

        def named(p):
            return {"label": self.labels[int(np.argmax(p))], "probs": {n: round(float(v), 4) for n, v in zip(self.labels, p)}}

        return {"input": source, **named(fused), "confidence": round(float(fused.max()), 4), "modality": "av",
                "streams": {"speech": named(out["speech"]), "face": named(out["face"])}, "frames": len(faces),
                "key_frames": self.frames, "audio_seconds": round(len(wave) / self.sample_rate, 2)}

    def classify(self, path: str | Path) -> dict:
        """Label of a video with an audio track (``SkipInput`` when it has none, or no face)."""
        from lipkeras.preprocess.errors import SkipInput
        from lipkeras.preprocess.process import process_video
        from lipkeras.preprocess.sources import Item

        path = Path(path)
        if not has_audio(path):
            raise SkipInput("no audio track (the audio-visual model needs one; --modality face reads the face only)")
        clip = process_video(Item(str(path), path.stem), self.preprocess_config())
        if clip.get("audio") is None or not len(clip["audio"]):
            raise SkipInput("the audio track is empty")
        return self.classify_clip(clip["face"], clip["audio"], str(path))
