"""A trained lipkeras model → a SavedModel in TF Serving's versioned layout, ``OUT/NAME/VERSION/``.

Built with Keras 3's ``keras.export.ExportArchive``; every exported function calls the model with
``training=False``. Signatures (all also listed by ``saved_model_cli show --all``):

===============  =========================================================================
lip readers      ``serving_default``: ``frames`` float32 ``[B, T, crop, crop, C]`` in [0, 1] +
                 ``frame_lengths`` int32 ``[B]`` → ``log_probs`` ``[B, T, V]`` (per-frame
                 character log-probabilities; CTC branch for cross-modal models), ``text``
                 ``[B]`` (greedy CTC; greedy attention decoding for cross-modal models, in the
                 graph), ``frame_lengths`` and ``embedding`` ``[B, 2D]`` (the clip's mean and
                 std of the features under the output layer: the domain check's input).
                 ``frames_uint8``: the same from uint8 mouth crops of any size as stored in
                 records (centre-cropped in the graph).
                 ``tf_example``: ``examples`` ``[B]`` serialized ``tf.Example``s in the records
                 schema (``lipkeras.records.schema``) → the same outputs + ``clip_id``.
emotion models   ``serving_default``: ``faces`` float32 ``[B, S, S, C]`` in [0, 1] →
                 ``probabilities`` ``[B, K]`` and ``label`` ``[B]`` (averaged over the
                 test-time views of each face when exported with ``views`` > 1).
                 ``faces_uint8``: uint8 faces of any size, gray or RGB (converted and resized
                 in the graph).
                 ``tf_example``: face records → the video-level prediction (mean of the
                 probabilities of at most 32 evenly sampled frames) + ``frames`` + ``clip_id``.
speech emotion   ``serving_default``: ``waveform`` float32 ``[B, N]`` in [-1, 1] at the model's
                 rate + ``lengths`` int32 ``[B]`` (real samples) → ``probabilities`` ``[B, K]``,
                 ``label`` ``[B]`` and ``embedding`` ``[B, E]`` (the fusion models' input).
av emotion       ``serving_default``: ``waveform`` float32 ``[B, N]`` (16 kHz) + ``lengths`` int32
                 ``[B]`` + ``faces`` float32 ``[B, 12, S, S, C]`` (key frames) → fused
                 ``probabilities``, ``label``, ``speech_probabilities``, ``face_probabilities``.
===============  =========================================================================

Beside the graph, ``assets.extra/lipkeras.json`` holds the vocabulary or labels, the
preprocessing parameters and the signatures; ``assets.extra/MODEL_CARD.md`` the model card.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

from lipkeras._quiet import import_tensorflow
from lipkeras.decode.confidence import DOMAIN_FILE
from lipkeras.records.vocab import Vocabulary

tf = import_tensorflow()

METADATA = "lipkeras.json"
ASSETS_EXTRA = "assets.extra"
EMOTION_MAX_FRAMES = 32
ATTENTION_MAX_LENGTH = 200


class ExportError(ValueError):
    """The model cannot be exported as asked (one line, names the model and the reason)."""


def model_kind(model) -> str:
    import lipkeras.models as models

    if isinstance(model, models.EmotionCNN):
        return "emotion"
    if isinstance(model, models.SpeechEmotionCRNN):
        return "speech_emotion"
    if isinstance(model, models.AVEmotionModel):
        return "av_emotion"
    if isinstance(model, models.CrossModalReader):
        return "crossmodal"
    names = getattr(model, "input_names", None) or [t.name for t in model.inputs]
    if any("frames" in str(n) for n in names):
        return "ctc"
    raise ExportError(f"{model.name}: not a lipkeras lip reader or emotion model")


def load(name_or_path: str):
    """``(model, metadata, kind, model_file)`` of a model given by path or by name under ``saved_models/``."""
    import keras

    import lipkeras.layers  # noqa: F401  (registers the custom layers)
    import lipkeras.models  # noqa: F401  (registers the models)
    from lipkeras.lipreader import read_metadata, resolve

    path = resolve(name_or_path)
    model = keras.saving.load_model(path, compile=False)
    kind = model_kind(model)
    if kind in ("emotion", "speech_emotion", "av_emotion"):
        meta_file = path.parent / METADATA
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        meta.setdefault("name", path.parent.name)
    else:
        meta = read_metadata(path)
    return model, meta, kind, path


def _lip_reader_endpoints(model, meta: dict, kind: str) -> dict:
    """name → (function, input signature) of a lip reader."""
    from lipkeras.export.graph import crop_frames, ctc_greedy_ids, ids_to_text, parse_roi_examples

    vocab = Vocabulary(meta.get("vocab") or Vocabulary().chars)
    crop = int(meta["crop_size"])
    channels = 1 if meta.get("color", "gray") == "gray" else 3
    if kind == "crossmodal":
        text_of = _attention_greedy(model, vocab)
    else:
        import keras

        head_input = model.get_layer("ctc_head").input  # [features, mask]: the features under the output layer
        probe = keras.Model(model.inputs, [model.outputs[0], head_input[0] if isinstance(head_input, list)
                                           else head_input])

        def text_of(frames, lengths):
            logits, features = probe({"frames": frames, "frame_lengths": lengths}, training=False)
            log_probs = tf.nn.log_softmax(logits)
            return log_probs, ids_to_text(ctc_greedy_ids(log_probs, lengths), vocab), clip_embeddings(features, lengths)

    def serve(frames, frame_lengths):
        log_probs, text, embedding = text_of(frames, frame_lengths)
        return {"log_probs": log_probs, "text": text, "frame_lengths": frame_lengths, "embedding": embedding}

    def serve_uint8(frames, frame_lengths):
        return serve(crop_frames(frames, crop), frame_lengths)

    def serve_examples(examples):
        frames, lengths, clip_ids = parse_roi_examples(examples, "mouth")
        frames.set_shape([None, None, None, None, channels])
        return {**serve_uint8(frames, lengths), "clip_id": clip_ids}

    lengths = tf.TensorSpec([None], tf.int32, name="frame_lengths")
    return {
        "serving_default": (serve, [tf.TensorSpec([None, None, crop, crop, channels], tf.float32, name="frames"),
                                    lengths]),
        "frames_uint8": (serve_uint8, [tf.TensorSpec([None, None, None, None, channels], tf.uint8, name="frames"),
                                       lengths]),
        "tf_example": (serve_examples, [tf.TensorSpec([None], tf.string, name="examples")]),
    }


def clip_embeddings(features, lengths):
    """Mean and standard deviation over each clip's real frames of ``features [B, T, D]`` → ``[B, 2D]``
    (``lipkeras.decode.confidence.clip_embedding`` in the graph: the domain check's input)."""
    f = tf.cast(features, tf.float32)
    mask = tf.sequence_mask(lengths, tf.shape(f)[1], dtype=tf.float32)[..., None]
    n = tf.maximum(tf.reduce_sum(mask, 1), 1.0)
    mean = tf.reduce_sum(f * mask, 1) / n
    std = tf.sqrt(tf.reduce_sum(tf.square(f - mean[:, None]) * mask, 1) / n)
    return tf.concat([mean, std], -1)


def _attention_greedy(model, vocab: Vocabulary, max_length: int = ATTENTION_MAX_LENGTH):
    """Greedy attention decoding of a ``CrossModalReader`` as a graph loop (``CrossModalRecognizer.greedy``)."""
    from lipkeras.decode.crossmodal import CrossModalRecognizer
    from lipkeras.export.graph import ids_to_text

    recognizer = CrossModalRecognizer(model, None, vocab)

    def text_of(frames, lengths):
        enc = recognizer.encode_model({"frames": frames, "frame_lengths": lengths}, training=False)
        memory = enc["memory"]
        batch, steps = tf.shape(memory)[0], tf.shape(memory)[1]
        mask = tf.sequence_mask(lengths, steps)
        never_blank = tf.one_hot(0, vocab.size, on_value=float("-inf"), off_value=0.0)

        def body(i, tokens, done):
            logits = recognizer.step_model([tokens, memory, mask], training=False)[:, -1] + never_blank
            c = tf.where(done, 0, tf.argmax(logits, -1, output_type=tf.int32))
            return i + 1, tf.concat([tokens, c[:, None]], 1), done | tf.equal(c, vocab.eos)

        _, tokens, _ = tf.while_loop(
            lambda i, tokens, done: (i < tf.minimum(steps, max_length)) & ~tf.reduce_all(done), body,
            [tf.constant(0), tf.fill([batch, 1], vocab.sos), tf.zeros([batch], tf.bool)],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None])])
        return (tf.nn.log_softmax(enc["ctc"]), ids_to_text(tokens[:, 1:], vocab),
                clip_embeddings(memory, lengths))

    return text_of


def _emotion_endpoints(model, meta: dict) -> dict:
    from lipkeras.export.graph import faces_to_model, parse_roi_examples, sample_frames

    _, size, _, channels = model.input_shape
    labels = tf.constant(list(model.labels))

    def serve(faces):
        probs = model(faces, training=False)
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, -1))}

    def serve_uint8(faces):
        return serve(faces_to_model(faces, size, channels))

    def serve_examples(examples):
        frames, lengths, clip_ids = parse_roi_examples(examples, "face")

        def one(args):
            clip, n = args
            return tf.reduce_mean(model(faces_to_model(sample_frames(clip, n, EMOTION_MAX_FRAMES), size, channels),
                                        training=False), 0)

        probs = tf.map_fn(one, (frames, lengths), fn_output_signature=tf.TensorSpec([len(model.labels)], tf.float32))
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, -1)), "frames": lengths,
                "clip_id": clip_ids}

    return {
        "serving_default": (serve, [tf.TensorSpec([None, size, size, channels], tf.float32, name="faces")]),
        "faces_uint8": (serve_uint8, [tf.TensorSpec([None, None, None, None], tf.uint8, name="faces")]),
        "tf_example": (serve_examples, [tf.TensorSpec([None], tf.string, name="examples")]),
    }


def _speech_emotion_endpoints(model, meta: dict) -> dict:
    import keras

    labels = tf.constant(list(model.labels))
    both = keras.Model(model.inputs, [model.outputs[0], model.get_layer("embedding").output])

    def serve(waveform, lengths):
        probs, embedding = both({"waveform": waveform, "lengths": lengths}, training=False)
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, -1)), "embedding": embedding}

    return {"serving_default": (serve, [tf.TensorSpec([None, None], tf.float32, name="waveform"),
                                        tf.TensorSpec([None], tf.int32, name="lengths")])}


def _av_emotion_endpoints(model) -> dict:
    """``serving_default``: ``waveform`` [B, N] float32 + ``lengths`` [B] int32 + ``faces`` [B, 12, S, S, C]
    float32 → fused ``probabilities``, ``label`` and each stream's probabilities on the same labels."""
    streams = model.streams_model()
    labels = tf.constant(list(model.labels))
    size, channels = model.face_input_size

    def serve(waveform, lengths, faces):
        out = streams({"waveform": waveform, "lengths": lengths, "faces": faces}, training=False)
        probs = out["probabilities"]
        return {"probabilities": probs, "label": tf.gather(labels, tf.argmax(probs, -1)),
                "speech_probabilities": out["speech"], "face_probabilities": out["face"]}

    return {"serving_default": (serve, [tf.TensorSpec([None, None], tf.float32, name="waveform"),
                                        tf.TensorSpec([None], tf.int32, name="lengths"),
                                        tf.TensorSpec([None, model.key_frame_count, size, size, channels],
                                                      tf.float32, name="faces")])}


def endpoints(model, meta: dict, kind: str) -> dict:
    if kind == "speech_emotion":
        return _speech_emotion_endpoints(model, meta)
    if kind == "av_emotion":
        return _av_emotion_endpoints(model)
    return _emotion_endpoints(model, meta) if kind == "emotion" else _lip_reader_endpoints(model, meta, kind)


def export_metadata(model, meta: dict, kind: str, source: Path, name: str, version: int) -> dict:
    """What a client needs beside the graph: vocabulary/labels, preprocessing, signatures."""
    import keras

    from lipkeras.emotion import FER_FACE_CENTER_Y, FER_FACE_SIDE

    from lipkeras import __version__

    out = {"name": name, "version": version, "kind": kind, "source_model": str(source),
           "precision": meta.get("precision", "float32"),
           "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "lipkeras": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}
    if kind == "speech_emotion":
        out.update(labels=list(model.labels), sample_rate=model.sample_rate,
                   max_seconds=meta.get("max_seconds", 3.0),
                   preprocessing={"waveform": f"float32 [B, N] in [-1, 1], mono at {model.sample_rate} Hz (int16 "
                                              "PCM / 32768); the centred max_seconds window of each clip",
                                  "lengths": "int32 [B]: real samples of each row (padding is masked)"},
                   signatures={"serving_default": "waveform float32 [B,N] + lengths int32 [B] → probabilities, "
                                                  "label, embedding"})
    elif kind == "av_emotion":
        size, channels = model.face_input_size
        out.update(labels=list(model.labels), fusion=model.config["fusion"], key_frames=model.key_frame_count,
                   preprocessing={k: meta[k] for k in ("sample_rate", "max_seconds", "face_size", "face_side",
                                                       "face_center_y") if k in meta},
                   signatures={"serving_default": f"waveform float32 [B,N] (16 kHz, [-1,1]) + lengths int32 [B] + "
                                                  f"faces float32 [B,{model.key_frame_count},{size},{size},"
                                                  f"{channels}] in [0,1] → probabilities, label, "
                                                  "speech_probabilities, face_probabilities"})
    elif kind == "emotion":
        _, size, _, channels = model.input_shape
        out.update(labels=list(model.labels), input_size=size, channels=channels, views=meta.get("views", 1),
                   preprocessing={"faces": f"float32 [B, {size}, {size}, {channels}] in [0, 1] (mean face is "
                                           "subtracted inside the model)",
                                  "face_size": meta.get("face_size", 112),
                                  "face_side": meta.get("face_side", FER_FACE_SIDE),
                                  "face_center_y": meta.get("face_center_y", FER_FACE_CENTER_Y),
                                  "video_frames": EMOTION_MAX_FRAMES},
                   signatures={"serving_default": "faces float32 [B,S,S,C] in [0,1] → probabilities, label",
                               "faces_uint8": "faces uint8 [B,H,W,1|3] any size → probabilities, label",
                               "tf_example": "serialized face records → video-level probabilities, label, "
                                             "frames, clip_id"})
    else:
        vocab = Vocabulary(meta.get("vocab") or Vocabulary().chars)
        out.update(vocab=vocab.tokens(), preset=meta.get("preset"),
                   preprocessing={k: meta[k] for k in ("crop_size", "mouth_size", "mouth_side", "color", "fps")
                                  if k in meta} | {"frames": "float32 in [0, 1] (÷255), centre crop of the mouth "
                                                             "ROI; per-clip normalisation is inside the model"},
                   decoding="greedy attention (in the graph)" if kind == "crossmodal" else "greedy CTC",
                   signatures={"serving_default": "frames float32 [B,T,crop,crop,C] in [0,1] + frame_lengths "
                                                  "→ log_probs, text, frame_lengths",
                               "frames_uint8": "frames uint8 [B,T,H,W,C] (mouth ROI as in records) + "
                                               "frame_lengths → log_probs, text, frame_lengths",
                               "tf_example": "serialized mouth records → log_probs, text, frame_lengths, clip_id"})
        if meta.get("decoding"):
            out["python_decoding"] = meta["decoding"]  # beam + LM fusion of `lipkeras transcribe`
        out["signatures"] = {k: v.replace("→ log_probs, text, frame_lengths", "→ log_probs, text, frame_lengths, "
                                          "embedding") for k, v in out["signatures"].items()}
    if meta.get("confidence"):
        out["confidence"] = meta["confidence"]  # lipkeras calibrate's fit: :transcribe reports with it
    return out


@contextlib.contextmanager
def staged_version(target: Path):
    """A temporary folder beside ``target`` to fill; on success it replaces ``target`` in one
    rename (a server never sees half a version), on failure it is removed."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))  # not a number: servers skip it
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide the version from a server running as another user
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def next_version(model_dir: Path) -> int:
    versions = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit()]
    return max(versions, default=0) + 1


def write_model_config(base: str | Path, mount: str = "/models") -> Path:
    """``base/models.config``: TF Serving's model config listing every exported model under ``base``
    (for ``tensorflow_model_server --model_config_file``), with ``base`` mounted at ``mount``."""
    base = Path(base)
    names = sorted(p.name for p in base.iterdir()
                   if p.is_dir() and any(v.name.isdigit() and (v / "saved_model.pb").is_file() for v in p.iterdir()))
    entries = "".join(f'  config {{\n    name: "{n}"\n    base_path: "{mount}/{n}"\n    model_platform: "tensorflow"\n'
                      f'  }}\n' for n in names)
    path = base / "models.config"
    tmp = path.with_suffix(".config.tmp")
    tmp.write_text(f"# written by lipkeras export: every model under this folder, for TF Serving\n"
                   f"model_config_list {{\n{entries}}}\n")
    os.replace(tmp, path)
    return path


def export_saved_model(name_or_path: str, name: str | None = None, version: int | None = None,
                       out: str | Path = "saved_models", overwrite: bool = False, precision: str = "float32",
                       views: int = 1) -> Path:
    """Export to ``out/name/version/`` (written beside it, then renamed: never half a version).

    Emotion models are exported with BatchNorm folded into the convolutions (same outputs);
    ``precision="bfloat16"`` exports the graph computing in bfloat16
    (``lipkeras.emotion.with_precision``): about twice the throughput on CPUs with bf16 units;
    ``views`` > 1 averages each face's test-time views inside the graph (``FaceViews``; each
    view is one more forward pass per face).
    """
    import keras

    model, meta, kind, source = load(name_or_path)
    if (precision != "float32" or views != 1) and kind != "emotion":
        raise ExportError(f"{name_or_path}: --precision and --views are for emotion models only")
    if kind == "emotion":
        from lipkeras.emotion import for_inference

        model = for_inference(model, precision, views)  # BatchNorm folded (same outputs, faster)
        meta = {**meta, "precision": precision, "views": views}
    name = name or meta.get("name") or source.parent.name
    model_dir = Path(out) / name
    model_dir.mkdir(parents=True, exist_ok=True)
    version = int(version) if version else next_version(model_dir)
    if version < 1:
        raise ExportError(f"{name}: version must be a positive integer, got {version}")
    target = model_dir / str(version)
    if target.exists() and not overwrite:
        raise ExportError(f"{target}: this version exists (choose another --version or pass --overwrite)")

    archive = keras.export.ExportArchive()
    # Not archive.track(model): the endpoints capture the variables they use, and tracking the
    # model too stores every weight twice (Keras wrappers + captured tf.Variables; keras#23553).
    for endpoint, (fn, signature) in endpoints(model, meta, kind).items():
        archive.add_endpoint(endpoint, fn, input_signature=signature)
    with staged_version(target) as tmp:
        archive.write_out(str(tmp), verbose=False)
        extra = tmp / ASSETS_EXTRA
        extra.mkdir()
        (extra / METADATA).write_text(json.dumps(export_metadata(model, meta, kind, source, name, version),
                                                 indent=2) + "\n")
        for f in ("MODEL_CARD.md", DOMAIN_FILE):
            if (source.parent / f).is_file():
                shutil.copyfile(source.parent / f, extra / f)
    write_model_config(out)
    return target
