"""The lipkeras extension ``:transcribe``: a whole video in, ``lipkeras transcribe --json``'s JSON out.

The video is preprocessed server-side with the same code as ``lipkeras preprocess`` (MediaPipe
landmarks, similarity warp, mouth and face crops, parameters from the SavedModel's
``assets.extra/lipkeras.json``), then read by the served SavedModel's ``frames_uint8`` signature;
with an emotion model served beside it, its ``faces_uint8`` signature gives the emotion (mean of
the probabilities of at most 32 evenly sampled face frames, as ``EmotionReader``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from lipkeras._quiet import import_tensorflow
from lipkeras.serve.repository import Servable, ServingError

tf = import_tensorflow()


def preprocess_config(reader: Servable, emotion: Servable | None):
    from lipkeras.emotion import FER_FACE_CENTER_Y, FER_FACE_SIDE
    from lipkeras.preprocess import PreprocessConfig

    pre = reader.meta.get("preprocessing", {})
    kw = dict(rois=("mouth",), mouth_size=pre.get("mouth_size", 96), mouth_side=pre.get("mouth_side", 1.3),
              color=pre.get("color", "gray"), fps=pre.get("fps", 25.0), workers=1)
    if emotion is not None:
        epre = emotion.meta.get("preprocessing", {})
        kw.update(rois=("mouth", "face"), face_size=epre.get("face_size", 112),
                  face_side=epre.get("face_side", FER_FACE_SIDE),
                  face_center_y=epre.get("face_center_y", FER_FACE_CENTER_Y))
    return PreprocessConfig(**kw)


def trust(reader: Servable, text: str, log_probs, embedding, frames: int) -> dict:
    """``lipkeras transcribe``'s confidence, word confidences, domain check and warning, from the
    signature's CTC log-probabilities (the greedy text forced-aligned to them) and embedding, with
    the calibration and domain the export carries in ``assets.extra``."""
    from lipkeras.decode.confidence import DOMAIN_FILE, Calibration, Domain, assess, ctc_char_logprobs
    from lipkeras.records.vocab import Vocabulary

    conf = reader.meta.get("confidence") or {}
    if reader.kind == "crossmodal":  # its greedy text scored by the CTC branch: that calibration
        conf = {**conf, "a": conf.get("ctc_a", conf.get("a", 1.0)), "b": conf.get("ctc_b", conf.get("b", 0.0))}
    vocab = Vocabulary("".join(reader.meta["vocab"][1:-1])) if reader.meta.get("vocab") else Vocabulary()
    domain = Domain.load(reader.path / "assets.extra" / DOMAIN_FILE)
    check = domain.check(embedding, frames) if domain is not None and embedding is not None else None
    return assess(text, ctc_char_logprobs(log_probs, vocab.encode(text)), Calibration.from_meta(conf), check)


def transcribe_bytes(data: bytes, filename: str, reader: Servable, emotion: Servable | None = None) -> dict:
    from lipkeras.emotion import label_confidence, sample_faces
    from lipkeras.preprocess.errors import SkipInput
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item
    from lipkeras.preprocess.video import VIDEO_EXTENSIONS

    if reader.kind not in ("ctc", "crossmodal") or "frames_uint8" not in reader.signatures:
        raise ServingError(400, f"{reader.name} is not a lipkeras lip reader (no frames_uint8 signature)")
    if not data:
        raise ServingError(400, f"{filename}: empty video")
    suffix = Path(filename).suffix.lower()
    suffix = suffix if suffix in VIDEO_EXTENSIONS else ".mp4"
    t0 = time.perf_counter()
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="lipkeras-upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            clip = process_video(Item(path, Path(filename).stem), preprocess_config(reader, emotion))
        except SkipInput as e:
            raise ServingError(400, f"{filename}: {e}") from None
        except Exception as e:  # an unreadable upload is the client's problem, named as such
            raise ServingError(400, f"{filename}: cannot read the video: {str(e).splitlines()[0]}") from None
    finally:
        os.unlink(path)
    t1 = time.perf_counter()
    frames = int(clip["num_frames"])
    out = reader.signatures["frames_uint8"](frames=tf.constant(clip["mouth"][None]),
                                            frame_lengths=tf.constant([frames], tf.int32))
    t2 = time.perf_counter()
    fps = reader.meta.get("preprocessing", {}).get("fps", 25.0)
    result = {"video": filename, "text": out["text"].numpy()[0].decode(), "frames": frames,
              "seconds": round(t2 - t0, 3), "model": reader.name, "video_seconds": round(frames / fps, 3),
              "preprocess_seconds": round(t1 - t0, 3), "model_seconds": round(t2 - t1, 3)}
    result.update(trust(reader, result["text"], out["log_probs"].numpy()[0, :frames],
                        out["embedding"].numpy()[0] if "embedding" in out else None, frames))
    if emotion is not None:
        faces = sample_faces(clip["face"], emotion.meta.get("preprocessing", {}).get("video_frames", 32))
        probs = emotion.signatures["faces_uint8"](faces=tf.constant(faces))["probabilities"].numpy().mean(0)
        labels = emotion.meta.get("labels") or [f"class_{i}" for i in range(len(probs))]
        result.update(emotion=labels[int(probs.argmax())],
                      emotion_probs={k: round(float(p), 4) for k, p in zip(labels, probs)}, emotion_model=emotion.name)
        e = label_confidence(probs, emotion.meta.get("confidence") or {})
        result["emotion_confidence"] = e["confidence"]
        if "warning" in e:
            result["emotion_warning"] = e["warning"]
        result["seconds"] = round(time.perf_counter() - t0, 3)
    return result
