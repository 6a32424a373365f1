"""A trained lipkeras model → a TFLite flatbuffer, ``OUT/NAME/tflite/VERSION/model.tflite``.

What it supports (TFLite builtin ops only, no Flex delegate needed):

* CTC lip readers built from 2D/3D convolutions, GRUs and the mouth preprocessing layer
  (``grid_lipreader``'s ``FastLipReader``): one signature ``serving_default``, ``frames`` float32
  ``[1, T, crop, crop, C]`` in [0, 1] + ``frame_lengths`` int32 ``[1]`` → ``log_probs``; T is
  dynamic, the batch is one clip (the GRU loops need a static batch size). Decoding to text
  stays outside (``lipkeras.decode``): TFLite has no string ops.
  LipNet presets use 3D max-pooling (``MaxPool3D`` is not a TFLite builtin) and do not convert.
* Emotion CNNs: ``faces`` float32 ``[B, S, S, C]`` in [0, 1] → ``probabilities`` (the mean face
  is inside the model); B is dynamic. ``quantize="int8"``: post-training full-integer
  quantization (int8 weights and activations, float32 faces in and probabilities out), calibrated
  on faces from a folder like the training faces: several times faster on CPUs with int8 dot
  products (AVX512-VNNI), and what ``lipkeras.emotion.TFLiteFaceClassifier`` / ``lipkeras emotion --model
  …/model.tflite`` run.
* Not the cross-modal reader: its autoregressive decoding loop is Python/SavedModel only.

Beside the flatbuffer, ``lipkeras.json`` holds the same metadata as the SavedModel's
``assets.extra``.
"""

from __future__ import annotations

import json

import tempfile
from pathlib import Path

import numpy as np

from lipkeras.export.saved_model import ExportError, export_metadata, load, next_version, staged_version
from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()


def _endpoint(model, meta: dict, kind: str):
    if kind == "emotion":
        _, size, _, channels = model.input_shape

        def probabilities(faces):
            return {"probabilities": model(faces, training=False)}
        return probabilities, [tf.TensorSpec([None, size, size, channels], tf.float32, name="faces")]
    if kind != "ctc":
        raise ExportError(f"{meta.get('name', 'model')}: TFLite export covers CTC lip readers and emotion models, "
                          f"not {kind} models (use the SavedModel)")
    crop = int(meta["crop_size"])
    channels = 1 if meta.get("color", "gray") == "gray" else 3

    def log_probs(frames, frame_lengths):
        return {"log_probs": tf.nn.log_softmax(model({"frames": frames, "frame_lengths": frame_lengths},
                                                     training=False))}
    # batch 1: TFLite's GRU loops need a static batch size (their TensorList element shape)
    return log_probs, [tf.TensorSpec([1, None, crop, crop, channels], tf.float32, name="frames"),
                       tf.TensorSpec([1], tf.int32, name="frame_lengths")]


QUANTIZE = ("none", "int8")


def calibration_faces(folder: str | Path, size: int, channels: int, count: int = 500, seed: int = 0):
    """``count`` faces ``[N, size, size, channels]`` float32 in [0, 1], a seeded sample of the images
    under ``folder`` (``<label>/*`` or flat): what int8 quantization calibrates its ranges on. An
    empty or corrupt image is reported on stderr and the next one in the sample taken instead."""
    import random
    import sys

    from lipkeras.preprocess.sources import IMAGE_EXTENSIONS
    from lipkeras.records.image_folder import image_folder_dataset, image_problem

    paths = sorted(str(f) for f in Path(folder).rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
    random.Random(seed).shuffle(paths)
    chosen = []
    for path in paths:
        if len(chosen) == count:
            break
        why = image_problem(path)
        if why:
            print(f"lipkeras export: {path}: {why} (not used for calibration)", file=sys.stderr)
        else:
            chosen.append(path)
    if not chosen:
        raise ExportError(f"{folder}: no readable images to calibrate int8 quantization on")
    batches = image_folder_dataset(chosen, [0] * len(chosen), size, channels, batch_size=100)
    return np.concatenate([x.numpy() for x, _ in batches])


def convert(model, meta: dict, kind: str, quantize: str = "none", calibration=None) -> bytes:
    """The TFLite flatbuffer of a loaded model (through a temporary SavedModel, as Keras' own
    LiteRT export does, so that the GRUs' variables are carried); ``quantize="int8"`` (emotion
    models) calibrates on ``calibration`` faces ``[N, S, S, C]``."""
    import keras

    if quantize not in QUANTIZE:
        raise ExportError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    if quantize == "int8" and kind != "emotion":
        raise ExportError(f"{meta.get('name', 'model')}: int8 quantization covers emotion models, not {kind} "
                          "models (their GRUs stay float)")
    if quantize == "int8" and (calibration is None or not len(calibration)):
        raise ExportError(f"{meta.get('name', 'model')}: int8 quantization needs calibration faces "
                          "(--calibration-data FOLDER)")

    fn, signature = _endpoint(model, meta, kind)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", fn, input_signature=signature)
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
        converter.experimental_enable_resource_variables = True
        if quantize == "int8":  # int8 inside; the faces in and the probabilities out stay float32
            faces = np.asarray(calibration, np.float32)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([faces[i:i + 1]] for i in range(len(faces)))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        try:
            return converter.convert()
        except Exception as e:  # the converter's message is pages of MLIR: keep the op names
            import re

            ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", str(e))))
            reason = f"unsupported ops {', '.join(ops)}" if ops else str(e).splitlines()[0]
            raise ExportError(f"{meta.get('name', 'model')}: TFLite conversion failed: {reason}") from None


def export_tflite(name_or_path: str, name: str | None = None, version: int | None = None,
                  out: str | Path = "saved_models", overwrite: bool = False, quantize: str = "none",
                  calibration_data: str | Path | None = None, calibration_count: int = 500) -> Path:
    """Write ``out/name/tflite/version/model.tflite`` + ``lipkeras.json`` (atomically); returns the file.
    ``quantize="int8"``: emotion models only, calibrated on ``calibration_count`` faces of
    ``calibration_data`` (a folder of images like the training faces)."""
    if quantize == "int8" and not calibration_data:
        raise ExportError(f"{name_or_path}: int8 quantization needs --calibration-data FOLDER (face images "
                          "like the training faces)")
    model, meta, kind, source = load(name_or_path)
    if kind == "emotion":
        from lipkeras.emotion import for_inference

        model = for_inference(model)  # BatchNorm folded, as the SavedModel export
        meta = {**meta, "views": 1}  # one view per face, whatever the reader's default
    name = name or meta.get("name") or source.parent.name
    base = Path(out) / name / "tflite"
    base.mkdir(parents=True, exist_ok=True)
    version = int(version) if version else next_version(base)
    target = base / str(version)
    if target.exists() and not overwrite:
        raise ExportError(f"{target}: this version exists (choose another --version or pass --overwrite)")
    calibration = None
    if quantize == "int8" and kind == "emotion":
        _, size, _, channels = model.input_shape
        calibration = calibration_faces(calibration_data, size, channels, calibration_count)
    flatbuffer = convert(model, meta, kind, quantize, calibration)
    with staged_version(target) as tmp:
        (tmp / "model.tflite").write_bytes(flatbuffer)
        info = export_metadata(model, meta, kind, source, name, version)
        info["signatures"] = {"serving_default": "log_probs of frames + frame_lengths" if kind == "ctc"
                              else "probabilities of faces"}
        info["decoding"] = "none inside: decode log_probs with lipkeras.decode" if kind == "ctc" else None
        if calibration is not None:
            info["precision"] = "int8"
            info["quantization"] = {"weights_and_activations": "int8", "input_output": "float32",
                                    "calibration_data": str(calibration_data), "calibration_faces": len(calibration)}
        (tmp / "lipkeras.json").write_text(json.dumps(info, indent=2) + "\n")
    return target / "model.tflite"
