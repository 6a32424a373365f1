"""Use a trained lip reader: load it by name or path, transcribe videos or evaluate on records.

A shipped model is a folder ``saved_models/<name>/`` with ``model.keras`` and ``lipkeras.json``
(what the model expects: crop size, preprocessing config, vocabulary, preset). A training run's
``runs/NAME/best.keras`` works too (its ``config.json`` supplies the crop size).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lipkeras.paths import saved_models_dirs
from lipkeras.records.vocab import DEFAULT, Vocabulary

DEFAULT_MODEL = "grid_lipreader"
METADATA = "lipkeras.json"


def resolve(name_or_path: str | None) -> Path:
    """The ``.keras`` file of a model given by path (file or folder) or by name under ``saved_models/``."""
    name = name_or_path or DEFAULT_MODEL
    candidates = [Path(name)] + [d / name for d in saved_models_dirs()]
    for c in candidates:
        if c.is_file() and c.suffix == ".keras":
            return c
        if c.is_dir():
            for f in ("model.keras", "best.keras", "last.keras"):
                if (c / f).is_file():
                    return c / f
    raise FileNotFoundError(f"{name}: no model found (a .keras file, a folder with model.keras, "
                            f"or a name under {', '.join(str(d) for d in saved_models_dirs())})")


def read_metadata(model_file: Path) -> dict:
    meta = {"crop_size": 88, "mouth_size": 96, "mouth_side": 1.3, "color": "gray", "fps": 25.0,
            "vocab": DEFAULT.chars, "name": model_file.parent.name}
    if (model_file.parent / METADATA).is_file():
        meta.update(json.loads((model_file.parent / METADATA).read_text()))
    elif (model_file.parent / "config.json").is_file():  # a training run folder
        cfg = json.loads((model_file.parent / "config.json").read_text())
        meta["crop_size"] = cfg.get("crop_size", meta["crop_size"])
        meta["preset"] = cfg.get("model") or cfg.get("preset")
        if cfg.get("stage") == "integrate" and (model_file.parent / "lm.keras").is_file():
            meta["lm"] = "lm.keras"
    return meta


def prepare_frames(mouth: np.ndarray, crop_size: int) -> np.ndarray:
    """uint8 mouth frames ``[T, H, W, C]`` → centre crop → float32 in [0, 1] (the reader's eval path)."""
    T, H, W, _ = mouth.shape
    if crop_size and crop_size < min(H, W):
        y, x = (H - crop_size) // 2, (W - crop_size) // 2
        mouth = mouth[:, y:y + crop_size, x:x + crop_size]
    return mouth.astype(np.float32) / 255.0


class LipReader:
    """A loaded lip-reading model plus what it needs to read raw videos."""

    def __init__(self, name_or_path: str | None = None):
        from lipkeras import _quiet

        _quiet.import_tensorflow()
        import keras

        import lipkeras.layers  # noqa: F401  (registers the custom layers)
        import lipkeras.models
        from lipkeras.models.losses import CTCLoss  # noqa: F401

        self.path = resolve(name_or_path)
        self.meta = read_metadata(self.path)
        self.name = name_or_path or DEFAULT_MODEL
        self.model = keras.saving.load_model(self.path, compile=False)
        self.vocab = Vocabulary(self.meta.get("vocab", DEFAULT.chars))
        self.kind = "crossmodal" if isinstance(self.model, lipkeras.models.CrossModalReader) else "ctc"
        self.recognizer = self.lm = None
        self._ran = False  # the first recognition runs with native stderr silenced (recognize_batch)
        lm_file = self.path.parent / self.meta["lm"] if self.meta.get("lm") else None
        if lm_file is not None and lm_file.is_file():
            self.lm = keras.saving.load_model(lm_file, compile=False)
        if self.kind == "crossmodal":
            from lipkeras.decode.crossmodal import CrossModalRecognizer, DecodingConfig

            self.recognizer = CrossModalRecognizer(self.model, self.lm, self.vocab)
            self.decoding = DecodingConfig(**self.meta.get("decoding", {}))
        else:
            from lipkeras.decode.ctc_lm import CTCDecodingConfig

            self.decoding = CTCDecodingConfig(**self.meta.get("decoding", {}))
        if self.lm is None:
            self.decoding.lm_weight = 0.0
        from lipkeras.decode.confidence import DOMAIN_FILE, Calibration, Domain

        # how far to trust a transcript (lipkeras calibrate fits both; uncalibrated models get defaults)
        self.calibration = Calibration.from_meta(self.meta.get("confidence"))
        self.domain = Domain.load(self.path.parent / DOMAIN_FILE)
        if self.kind == "ctc":  # logits and the features under the output layer, in one pass
            head_input = self.model.get_layer("ctc_head").input  # [features, mask] when called with a mask
            features = head_input[0] if isinstance(head_input, (list, tuple)) else head_input
            self.probe = keras.Model(self.model.inputs, [self.model.outputs[0], features])

    def decoding_config(self, beam_width: int = 0, lm_weight: float | None = None, ctc_weight: float | None = None):
        """The model's default decoding with any of these overridden (``beam_width`` 0: the default;
        for CTC models 1 is greedy). ``ctc_weight`` is for cross-modal models only."""
        import dataclasses

        cfg = dataclasses.replace(self.decoding)
        if beam_width and beam_width > 0:
            cfg.beam_width = beam_width
        if lm_weight is not None:
            if lm_weight and self.lm is None:
                raise ValueError(f"{self.name}: no language model ships with this model (--lm-weight needs one)")
            cfg.lm_weight = lm_weight
        if ctc_weight is not None:
            if self.kind != "crossmodal":
                raise ValueError(f"{self.name}: --ctc-weight is for cross-modal models (this one is CTC only)")
            cfg.ctc_weight = ctc_weight
        return cfg

    def recognize_batch(self, frames: np.ndarray, lengths: np.ndarray, beam_width: int = 0,
                        lm_weight: float | None = None, ctc_weight: float | None = None, nbest: int = 1,
                        details: bool = False) -> list[dict]:
        """One dict per clip: ``text`` (+ ``score``, ``lm_score``, ``char_logprobs``… for cross-modal models)
        and the trust fields. ``nbest`` > 1: also ``nbest``, the beam's best texts with their scores
        (greedy decoding has one). ``details``: also ``char_confidences`` (one per character of the
        text) and ``ctc_frame_ids`` (each frame's best CTC token, ``self.vocab.tokens()`` names them)."""
        if not self._ran:
            from lipkeras._quiet import native_stderr_silenced

            # the first run logs TF's one-time oneDNN notice (an "E" line about its DT_BOOL fallback)
            # on the raw stderr, between the user's per-video lines; failures still raise
            with native_stderr_silenced():
                out = self._recognize_batch(frames, lengths, beam_width, lm_weight, ctc_weight, nbest, details)
            self._ran = True
            return out
        return self._recognize_batch(frames, lengths, beam_width, lm_weight, ctc_weight, nbest, details)

    def _recognize_batch(self, frames, lengths, beam_width, lm_weight, ctc_weight, nbest=1, details=False) -> list[dict]:
        from lipkeras.decode.confidence import assess

        results, char_logprobs, embeddings = self.read_batch(frames, lengths, beam_width, lm_weight, ctc_weight, nbest)
        for r, p, e, n in zip(results, char_logprobs, embeddings, np.asarray(lengths)):
            r.pop("_ctc_char_logprobs", None)
            frame_ids = r.pop("_ctc_frame_ids")
            check = self.domain.check(e, int(n)) if self.domain is not None else None
            r.update(assess(r["text"], p, self.calibration, check))
            if details:
                r.update(char_confidences=self.calibration.char_confidences(p), ctc_frame_ids=frame_ids)
        return results

    def embed_batch(self, frames, lengths) -> np.ndarray:
        """Each clip's embedding (the domain check's input) without decoding: mean and standard
        deviation over its frames of the features under the output layer (cross-modal: the memory)."""
        from lipkeras.decode.confidence import clip_embedding

        lengths = np.asarray(lengths)
        if self.kind == "crossmodal":
            features = self.recognizer.encode(frames, lengths)["memory"]
        else:
            features = np.asarray(self.probe.predict_on_batch({"frames": frames, "frame_lengths": lengths})[1])
        return np.stack([clip_embedding(features[b], int(n)) for b, n in enumerate(lengths)])

    def read_batch(self, frames, lengths, beam_width: int = 0, lm_weight: float | None = None,
                   ctc_weight: float | None = None, nbest: int = 1) -> tuple[list[dict], list[list[float]], np.ndarray]:
        """Decoded clips (one dict each: ``text`` and the search's scores), the raw log-probability of
        each character of each text (the confidences' input) and each clip's embedding (the domain
        check's input): what ``recognize_batch`` reports, before calibration. Cross-modal results
        also keep ``_ctc_char_logprobs``, the text forced-aligned to the CTC branch (what a served
        model, which has only that branch's posteriors, is calibrated on); every result keeps
        ``_ctc_frame_ids``, each frame's best CTC token."""
        from lipkeras.decode import decode
        from lipkeras.decode.ctc import frame_ids
        from lipkeras.decode.confidence import clip_embedding, ctc_char_logprobs, normalized
        from lipkeras.decode.ctc_prefix import log_softmax

        cfg = self.decoding_config(beam_width, lm_weight, ctc_weight)
        lengths = np.asarray(lengths)
        if self.kind == "crossmodal":
            enc = self.recognizer.encode(frames, lengths)
            results = self.recognizer.recognize(frames, lengths, cfg, encoded=enc, nbest=nbest)
            chars = []
            for r in results:  # the attention decoder's own per-character log-probabilities
                text, logprobs = normalized(self.vocab.decode(self.vocab.encode(r["text"])), r["char_logprobs"])
                chars.append(logprobs if text == r["text"] else [-np.inf] * len(r["text"]))
            features = enc["memory"]
            for b, (r, n) in enumerate(zip(results, lengths)):
                r["_ctc_char_logprobs"] = ctc_char_logprobs(log_softmax(enc["ctc"][b, :int(n)]),
                                                            self.vocab.encode(r["text"]))
                r["_ctc_frame_ids"] = frame_ids(enc["ctc"][b], int(n))
        else:
            logits, features = (np.asarray(v) for v in self.probe.predict_on_batch(
                {"frames": frames, "frame_lengths": lengths}))
            if cfg.beam_width > 1 and (cfg.lm_weight > 0 or nbest > 1):  # TF's beam search keeps only the best
                results = self._ctc_lm_search(logits, lengths, cfg, nbest)
            else:
                results = [{"text": t} for t in decode(logits, lengths, beam_width=cfg.beam_width, vocab=self.vocab)]
                if nbest > 1:  # greedy decoding has no alternatives
                    for r in results:
                        r["nbest"] = [{"text": r["text"], "score": None}]
            chars = [ctc_char_logprobs(log_softmax(logits[b, :int(n)]), self.vocab.encode(r["text"]))
                     for b, (r, n) in enumerate(zip(results, lengths))]
            for b, (r, n) in enumerate(zip(results, lengths)):
                r["_ctc_frame_ids"] = frame_ids(logits[b], int(n))
        embeddings = np.stack([clip_embedding(features[b], int(n)) for b, n in enumerate(lengths)])
        return results, chars, embeddings

    def _ctc_lm_search(self, logits: np.ndarray, lengths: np.ndarray, cfg, nbest: int = 1) -> list[dict]:
        from lipkeras.decode.char_lm import lm_step
        from lipkeras.decode.ctc_lm import ctc_lm_beam_search
        from lipkeras.decode.ctc_prefix import log_softmax

        step = lm_step(self.lm, cfg.beam_width) if self.lm is not None and cfg.lm_weight else None
        out = []
        for b, n in enumerate(np.asarray(lengths)):
            ranked = ctc_lm_beam_search(log_softmax(logits[b, :int(n)]), step, self.vocab.sos, self.vocab.eos,
                                        lm_weight=cfg.lm_weight, beam_width=cfg.beam_width,
                                        length_bonus=cfg.length_bonus, nbest=nbest)
            best = ranked[0]
            out.append({"text": " ".join(self.vocab.decode(best.tokens).split()), "score": round(best.score, 4),
                        "ctc_score": round(best.ctc_score, 4), "lm_score": round(best.lm_score, 4)})
            if nbest > 1:
                out[-1]["nbest"] = [{"text": " ".join(self.vocab.decode(h.tokens).split()), "score": round(h.score, 4)}
                                    for h in ranked]
        return out

    def text_recognizer(self, beam_width: int = 0, lm_weight: float | None = None, ctc_weight: float | None = None):
        """``recognize(model, frames, lengths) → texts`` for ``transcribe_dataset``."""
        def recognize(model, frames, lengths):
            return [r["text"] for r in self.recognize_batch(frames, lengths, beam_width, lm_weight, ctc_weight)]
        return recognize

    def preprocess_config(self, emotion=None):
        """Mouth crops as the model was trained on; plus the emotion model's face crops if given."""
        from lipkeras.preprocess import PreprocessConfig

        face = {}
        if emotion is not None:
            ecfg = emotion.preprocess_config()
            face = dict(rois=("mouth", "face"), face_size=ecfg.face_size, face_side=ecfg.face_side,
                        face_center_y=ecfg.face_center_y)
        return PreprocessConfig(**{"rois": ("mouth",), **face}, mouth_size=self.meta["mouth_size"],
                                mouth_side=self.meta["mouth_side"], color=self.meta["color"],
                                fps=self.meta["fps"], workers=1)

    def logits(self, mouth_batch: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch({"frames": mouth_batch, "frame_lengths": lengths}))

    def read_clip(self, mouth: np.ndarray, beam_width: int = 0, **decoding) -> dict:
        """Text (and scores) of one clip of uint8 mouth frames ``[T, H, W, C]`` (as stored in records);
        ``decoding``: ``recognize_batch``'s keyword arguments."""
        x = prepare_frames(mouth, self.meta["crop_size"])[None]
        return self.recognize_batch(x, np.array([x.shape[1]], np.int32), beam_width, **decoding)[0]

    def read_frames(self, mouth: np.ndarray, beam_width: int = 0, **decoding) -> str:
        return self.read_clip(mouth, beam_width, **decoding)["text"]

    def preprocess_video(self, video: str | Path, emotion=None) -> dict:
        """The clip ``transcribe`` reads: a raw video preprocessed exactly as ``lipkeras preprocess`` does
        (``mouth`` frames, and with an ``EmotionReader`` the ``face`` frames, ``num_frames``...).
        Raises ``SkipInput`` with the one-line reason for a video it cannot use."""
        from lipkeras.preprocess.process import process_video
        from lipkeras.preprocess.sources import Item

        return process_video(Item(str(video), Path(video).stem), self.preprocess_config(emotion))

    def transcribe(self, video: str | Path, beam_width: int = 0, emotion=None, nbest: int = 1, details: bool = False,
                   **decoding) -> dict:
        """Preprocess a raw video exactly as ``lipkeras preprocess`` does, read its lips, decode.

        With an ``EmotionReader``, the same pass also crops the face, and the result gains
        ``emotion`` and ``emotion_probs`` (the mean of the frame probabilities). ``nbest`` and
        ``details``: see ``recognize_batch``; ``details`` also gives the emotion over time
        (``emotion_frame_indices``, ``emotion_frame_probs``, ``emotion_labels``).
        """
        t0 = time.perf_counter()
        clip = self.preprocess_video(video, emotion)
        return self.transcribe_clip(clip, video, beam_width, emotion, nbest, details,
                                    preprocess_seconds=time.perf_counter() - t0, **decoding)

    def transcribe_clip(self, clip: dict, video: str | Path = "", beam_width: int = 0, emotion=None, nbest: int = 1,
                        details: bool = False, preprocess_seconds: float = 0.0, **decoding) -> dict:
        """``transcribe`` of a clip ``preprocess_video`` made (for callers that also show its crops)."""
        t1 = time.perf_counter()
        read = self.read_clip(clip["mouth"], beam_width, nbest=nbest, details=details, **decoding)
        t2 = time.perf_counter()
        frames = int(clip["num_frames"])
        out = {"video": str(video), "text": read.pop("text"), "frames": frames,
               "seconds": round(preprocess_seconds + t2 - t1, 3), "model": self.name,
               "video_seconds": round(frames / self.meta["fps"], 3),
               "preprocess_seconds": round(preprocess_seconds, 3), "model_seconds": round(t2 - t1, 3)}
        out.update(read)
        if emotion is not None:
            e = emotion.classify_faces(clip["face"], per_frame=details)
            out.update(emotion=e["label"], emotion_probs=e["probs"], emotion_model=emotion.name,
                       emotion_confidence=e["confidence"])
            if "warning" in e:
                out["emotion_warning"] = e["warning"]
            if details:
                out.update(emotion_frame_indices=e["frame_indices"], emotion_frame_probs=e["frame_probs"],
                           emotion_labels=list(emotion.labels))
            # all of it: preprocessing, lips and emotion
            out["seconds"] = round(preprocess_seconds + time.perf_counter() - t1, 3)
        return out


def ship(model_file: str | Path, out_dir: str | Path, preset: str | None = None, crop_size: int = 88,
         preprocess=None, lm_file: str | Path | None = None, decoding: dict | None = None) -> Path:
    """Copy a trained ``.keras`` model into ``out_dir`` with its ``lipkeras.json`` (atomic writes).

    A cross-modal model also takes its fusion LM (``lm_file``, default the run's ``lm.keras``)
    and default ``decoding`` (beam width, LM and CTC weights, as tuned on validation clips); a CTC
    model takes them when given (``CTCDecodingConfig``: beam width, LM weight, length bonus).
    """
    import keras

    import lipkeras.models
    from lipkeras.preprocess import PreprocessConfig
    from lipkeras.records.io import save_keras_atomic, write_json_atomic

    pre = preprocess or PreprocessConfig(rois=("mouth",))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = keras.saving.load_model(model_file, compile=False)  # drops the optimizer state
    save_keras_atomic(model, out / "model.keras")
    meta = {"name": out.name, "preset": preset, "crop_size": crop_size, "mouth_size": pre.mouth_size,
            "mouth_side": pre.mouth_side, "color": pre.color, "fps": pre.fps, "vocab": DEFAULT.chars,
            "input": "mouth frames [B, T, crop, crop, 1] float32 in [0, 1] + frame_lengths [B] int32",
            "output": "CTC logits [B, T, vocab]; id 0 = blank"}
    if isinstance(model, lipkeras.models.CrossModalReader):
        lm_file = Path(lm_file or Path(model_file).parent / "lm.keras")
        save_keras_atomic(keras.saving.load_model(lm_file, compile=False), out / "lm.keras")
        meta.update(kind="crossmodal", lm="lm.keras", decoding=dict(decoding or {}),
                    output="{'ctc': CTC logits [B, T, vocab], 'attention': next-character logits [B, L, vocab]} "
                           "given tokens = <sos> + characters; decode with attention beam search")
    elif lm_file is not None:
        save_keras_atomic(keras.saving.load_model(lm_file, compile=False), out / "lm.keras")
        meta.update(lm="lm.keras", decoding=dict(decoding or {}),
                    lm_output="next-character logits [B, L, vocab] given tokens = <sos> + characters; "
                              "fused into CTC beam search")
    write_json_atomic(out / METADATA, meta)
    return out / "model.keras"
