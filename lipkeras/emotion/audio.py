"""Emotion from speech: a trained ``SpeechEmotionCRNN`` on audio files and the audio tracks of videos.

A shipped model is ``saved_models/<name>/model.keras`` with a ``lipkeras.json`` of ``kind``
``speech_emotion`` (labels, sample rate, ``max_seconds``, optional temperature calibration). A file
is decoded to 16 kHz mono with the preprocessing's decoder (PyAV: .wav, .flac, .mp3, .m4a, ... and
any video's first audio track), and the model reads its centred ``max_seconds`` window: the
window it was trained and tested on. Unusable audio (an empty or corrupt file, no audio track,
too short, silent) raises ``SkipInput`` with a one-line reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lipkeras.emotion.face import calibration_of, label_confidence
from lipkeras.preprocess.errors import SkipInput

DEFAULT_SPEECH_EMOTION_MODEL = "speech_emotion"
# Silence (or a muted track), whatever a model would say of it: the centred window under -60 dBFS
# RMS and the whole clip never above -50 dBFS. Quiet real speech passes: RAVDESS actor 20's softest
# clips measure -63 dBFS RMS in the window but peak at -47 to -44 dBFS (all 1,200 peak above -47).
SILENCE_DBFS = -60.0
SILENCE_PEAK_DBFS = -50.0
MIN_SECONDS = 0.1


def rms_dbfs(waveform: np.ndarray) -> float:
    """Root-mean-square level of a float waveform in [-1, 1], in dB below full scale (-inf for zeros)."""
    x = np.asarray(waveform, np.float64)
    rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def as_float(audio: np.ndarray) -> np.ndarray:
    """int16 PCM → float32 in [-1, 1] (float input is taken as already scaled)."""
    audio = np.asarray(audio)
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32)


class SpeechEmotionReader:
    """A trained speech emotion model, ready for audio files and the audio tracks of videos.

    ``name_or_path``: a ``.keras`` model (file, folder or name under ``saved_models/``; default
    ``speech_emotion``). ``max_seconds``: the centred window read from each file (default: the
    model's ``lipkeras.json``, else 3 s; 0: the whole file).
    """

    modality = "audio"

    def __init__(self, name_or_path: str | None = None, max_seconds: float | None = None):
        from lipkeras import _quiet

        _quiet.import_tensorflow()
        import keras

        import lipkeras.models  # noqa: F401  (registers the classes)
        from lipkeras.lipreader import resolve

        self.name = name_or_path or DEFAULT_SPEECH_EMOTION_MODEL
        self.path = resolve(self.name)
        meta_file = self.path.parent / "lipkeras.json"
        self.meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if self.path.parent.joinpath("config.json").is_file() and not self.meta:  # a training run folder
            cfg = json.loads(self.path.parent.joinpath("config.json").read_text())
            self.meta = {"max_seconds": cfg.get("max_seconds", 3.0)}
        self.model = keras.saving.load_model(self.path, compile=False)
        if not hasattr(self.model, "sample_rate"):
            raise ValueError(f"{self.path}: not a speech emotion model ({type(self.model).__name__})")
        self.labels = tuple(self.model.labels)
        self.sample_rate = int(self.model.sample_rate)
        self.max_seconds = float(self.meta.get("max_seconds", 3.0) if max_seconds is None else max_seconds)
        self.calibration = calibration_of(self.path, self.meta)

    @property
    def max_samples(self) -> int:
        return int(round(self.max_seconds * self.sample_rate)) if self.max_seconds else 0

    def load_audio(self, path: str | Path) -> np.ndarray:
        """The file's (first) audio track as float32 mono at the model's rate; ``SkipInput`` naming
        why when it has none, is unreadable, too short or silent."""
        from lipkeras.preprocess.video import decode_audio

        pcm = decode_audio(path, self.sample_rate)
        return self.check_audio(as_float(pcm))

    def check_audio(self, waveform: np.ndarray) -> np.ndarray:
        """``waveform`` if it is usable, else ``SkipInput`` with the reason."""
        if waveform.size == 0:
            raise SkipInput("empty audio track (no samples decoded)")
        if waveform.size < MIN_SECONDS * self.sample_rate:
            raise SkipInput(f"audio too short ({waveform.size / self.sample_rate:.3f} s; at least {MIN_SECONDS} s)")
        level = rms_dbfs(self.centre(waveform))
        peak = 20 * np.log10(max(float(np.abs(waveform).max()), 1e-12))
        if level < SILENCE_DBFS and peak < SILENCE_PEAK_DBFS:
            shown = "-inf" if not np.isfinite(level) else f"{level:.0f}"
            raise SkipInput(f"silent audio (RMS {shown} dBFS, under {SILENCE_DBFS:.0f}; "
                            f"peak under {SILENCE_PEAK_DBFS:.0f} dBFS)")
        return waveform

    def centre(self, waveform: np.ndarray) -> np.ndarray:
        """The centred ``max_seconds`` window (what training evaluated on)."""
        from lipkeras.records.audio import centre_crop_bounds

        start, stop = centre_crop_bounds(len(waveform), self.max_samples)
        return waveform[start:stop]

    def _batches(self, waveforms, batch_size: int):
        """Model inputs of ``batch_size`` centred windows at a time: zero-padded rows masked by their lengths."""
        clips = [self.centre(as_float(w)) for w in waveforms]
        for i in range(0, len(clips), batch_size):
            chunk = clips[i:i + batch_size]
            batch = np.zeros((len(chunk), max(max(len(c) for c in chunk), 400)), np.float32)  # >= one 25 ms frame
            for j, c in enumerate(chunk):
                batch[j, :len(c)] = c
            yield {"waveform": batch, "lengths": np.array([len(c) for c in chunk], np.int32)}

    def predict_waveforms(self, waveforms, batch_size: int = 32) -> np.ndarray:
        """Probabilities ``[N, labels]`` of float (or int16) waveforms at the model's rate, each read in
        its centred window."""
        out = [np.asarray(self.model.predict_on_batch(x), np.float32) for x in self._batches(waveforms, batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)

    def result(self, source: str, probs: np.ndarray, seconds: float) -> dict:
        probs = np.asarray(probs, np.float64)
        label = self.labels[int(probs.argmax())]
        return {"input": source, "modality": self.modality, "label": label,
                "probs": {name: round(float(p), 4) for name, p in zip(self.labels, probs)},
                "audio_seconds": round(seconds, 3)} | label_confidence(probs, self.calibration)

    def predict_file(self, path: str | Path) -> dict:
        """Label, probabilities and confidence of an audio file or a video's audio track."""
        waveform = self.load_audio(path)
        probs = self.predict_waveforms([waveform])[0]
        return self.result(str(path), probs, len(waveform) / self.sample_rate)

    def embed_waveforms(self, waveforms, batch_size: int = 32) -> np.ndarray:
        """The model's utterance embeddings ``[N, E]`` (what fusion models read), windows as ``predict_waveforms``."""
        if not hasattr(self, "_embedding"):
            self._embedding = self.model.embedding_model()
        out = [np.asarray(self._embedding.predict_on_batch(x), np.float32) for x in self._batches(waveforms, batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.model.config["embedding_units"]), np.float32)


def is_speech_model(name_or_path: str | None) -> bool:
    """Whether a model given by path or name is a speech emotion model, from its ``lipkeras.json``
    (``kind``) or its training run's ``config.json`` (``stage``), without loading it."""
    from lipkeras.lipreader import resolve

    try:
        path = resolve(name_or_path)
    except FileNotFoundError:
        return False
    for name, key, value in (("lipkeras.json", "kind", "speech_emotion"), ("config.json", "stage", "audio-emotion")):
        f = path.parent / name
        if f.is_file():
            try:
                if json.loads(f.read_text()).get(key) == value:
                    return True
            except (OSError, ValueError, AttributeError):
                pass
    return False


def calibrate(reader: SpeechEmotionReader, waveforms, labels) -> dict:
    """Temperature scaling (``softmax(log p / T)``, T minimising the NLL) of ``reader`` on labelled
    waveforms (the validation speakers): the ``confidence`` section of ``lipkeras.json``."""
    from lipkeras.calibrate import fit_temperature, tempered
    from lipkeras.decode.confidence import auroc, expected_calibration_error

    probs = reader.predict_waveforms(waveforms)
    labels = np.asarray(labels)
    t = fit_temperature(probs, labels)
    calibrated = tempered(probs, t)
    correct = probs.argmax(1) == labels
    certain = calibrated.max(1) >= 0.5
    return {"temperature": round(t, 4), "threshold": 0.5,
            "method": "temperature scaling of the probabilities (softmax(log p / T)), T fit on the validation "
                      "speakers' clips",
            "validation": {"clips": int(len(labels)), "accuracy": round(float(correct.mean()), 4),
                           "ece_before": round(expected_calibration_error(probs.max(1), correct), 4),
                           "ece": round(expected_calibration_error(calibrated.max(1), correct), 4),
                           "auroc": round(auroc(calibrated.max(1), correct), 4),
                           "uncertain_rate": round(float((~certain).mean()), 4),
                           "accuracy_when_certain": round(float(correct[certain].mean()), 4) if certain.any() else None}}


def ship(model_file: str | Path, out_dir: str | Path, max_seconds: float, extra: dict | None = None) -> Path:
    """Copy a trained speech emotion ``.keras`` (optimizer state dropped) into ``out_dir`` with its
    ``lipkeras.json`` (``kind`` ``speech_emotion``, labels, sample rate, ``max_seconds``; ``extra``
    merged in, e.g. ``confidence``). Atomic writes."""
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    import keras

    import lipkeras.models  # noqa: F401  (registers the classes)
    from lipkeras.records.io import save_keras_atomic, write_json_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = keras.saving.load_model(model_file, compile=False)
    save_keras_atomic(model, out / "model.keras")
    write_json_atomic(out / "lipkeras.json", {
        "name": out.name, "kind": "speech_emotion", "labels": list(model.labels), "sample_rate": model.sample_rate,
        "max_seconds": float(max_seconds),
        "input": "waveform float32 [B, N] in [-1, 1] at sample_rate (mono) + lengths int32 [B] (real samples; "
                 "padding masked); files are read in their centred max_seconds window",
        "output": "class probabilities [B, len(labels)]; embedding_model(): [B, embedding_units]",
        **(extra or {})})
    return out / "model.keras"
