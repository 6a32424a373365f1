"""Export: the shipped SavedModels (and TFLite conversions) give the Keras models' outputs on real inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, latest_export, newest_version, read_fer_faces
from lipkeras._quiet import import_tensorflow

tf = import_tensorflow()

LIP_READERS = ("grid_lipreader", "grid_crossmodal")


def latest(name: str) -> Path:
    return latest_export(name)[0]


@pytest.fixture(scope="module")
def mouth_clips(sample_records):
    from lipkeras.records.inspect import iter_records

    raws = [raw for _, raw in iter_records(str(sample_records))][:3]
    from lipkeras.records.schema import parse

    return raws, [parse(r)["mouth"].numpy() for r in raws]


@pytest.fixture(scope="module")
def fer_faces(shared_data):
    return read_fer_faces(shared_data, per_label=3)


@pytest.mark.parametrize("name", LIP_READERS)
def test_shipped_lip_reader_savedmodel_matches_keras(name, mouth_clips):
    from lipkeras.lipreader import LipReader, prepare_frames

    raws, mouths = mouth_clips
    reader = LipReader(name)
    loaded = tf.saved_model.load(str(latest(name)))
    assert {"serving_default", "frames_uint8", "tf_example"} <= set(loaded.signatures)
    frames = np.stack([prepare_frames(m, reader.meta["crop_size"]) for m in mouths])
    lengths = np.array([len(m) for m in mouths], np.int32)
    lengths[-1] -= 10  # a padded clip

    out = loaded.signatures["serving_default"](frames=tf.constant(frames), frame_lengths=tf.constant(lengths))
    if reader.kind == "crossmodal":
        ctc = reader.recognizer.encode(frames, lengths)["ctc"]
    else:
        ctc = reader.logits(frames, lengths)
    expected = tf.nn.log_softmax(ctc).numpy()
    for b, n in enumerate(lengths):
        np.testing.assert_allclose(out["log_probs"].numpy()[b, :n], expected[b, :n], atol=2e-4)
    if reader.kind == "crossmodal":
        texts = reader.recognizer.greedy(frames, lengths)  # the graph decodes greedily by attention
    else:
        texts = [r["text"] for r in reader.recognize_batch(frames, lengths, beam_width=1)]  # greedy CTC, as the graph
    assert [t.decode() for t in out["text"].numpy()] == texts
    assert all(len(t.split()) == 6 for t in texts[:2])  # GRID sentences: six words

    uint8 = loaded.signatures["frames_uint8"](frames=tf.constant(np.stack(mouths)), frame_lengths=tf.constant(lengths))
    np.testing.assert_allclose(uint8["log_probs"].numpy(), out["log_probs"].numpy(), atol=1e-4)

    examples = loaded.signatures["tf_example"](examples=tf.constant(raws))
    assert [t.decode() for t in examples["text"].numpy()][:2] == texts[:2]
    assert examples["clip_id"].numpy()[0].decode().startswith("s1/")
    meta = latest_export(name)[1]
    assert meta["vocab"][0] == "<blank>" and meta["preprocessing"]["crop_size"] == reader.meta["crop_size"]
    assert (latest(name) / "assets.extra" / "MODEL_CARD.md").is_file()


@pytest.mark.parametrize("name", ["fer_emotion", "fer_emotion_fast"])
def test_shipped_emotion_savedmodel_matches_keras(name, fer_faces, grid_sample, tmp_path):
    from lipkeras.emotion import EmotionReader
    from lipkeras.preprocess import PreprocessConfig, run
    from lipkeras.records.inspect import iter_records
    from lipkeras.records.schema import parse

    path, meta = latest_export(name)
    reader = EmotionReader(name, precision=meta["precision"], views=meta.get("views", 1))  # as the graph computes
    loaded = tf.saved_model.load(str(path))
    expected = reader.predict_faces(fer_faces)
    out = loaded.signatures["serving_default"](faces=tf.constant(fer_faces.astype(np.float32) / 255))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    labels = [t.decode() for t in out["label"].numpy()]
    assert labels == [reader.labels[i] for i in expected.argmax(1)]
    uint8 = loaded.signatures["faces_uint8"](faces=tf.constant(fer_faces))
    np.testing.assert_allclose(uint8["probabilities"].numpy(), expected, atol=1e-5)

    # video level from face records: the mean over sampled frames, as the Python reader
    clips = sorted((grid_sample / "s1").glob("*.mp4"))[:2]
    (tmp_path / "v").mkdir()
    for c in clips:
        (tmp_path / "v" / c.name).write_bytes(c.read_bytes())
    run(tmp_path / "v", tmp_path / "rec", PreprocessConfig(dataset="folder", rois=("face",), require_transcript=False,
                                                           workers=1), progress=False)
    raws = [raw for _, raw in iter_records(str(tmp_path / "rec"))]
    video = loaded.signatures["tf_example"](examples=tf.constant(raws))
    for raw, probs in zip(raws, video["probabilities"].numpy()):
        python = reader.classify_faces(parse(raw, rois=("face",))["face"].numpy())
        np.testing.assert_allclose(probs, [python["probs"][k] for k in reader.labels], atol=2e-3)
    assert list(video["frames"].numpy()) == [75, 75]


@pytest.mark.parametrize("name", ["fer_emotion", "fer_emotion_fast"])
def test_shipped_int8_emotion_export_agrees_with_its_keras_model(name, shared_data):
    """The shipped int8 TFLite file (the fast path) labels real FER faces as its float32 model does."""
    from lipkeras.emotion import EmotionReader

    newest = newest_version(REPO / "saved_models" / name / "tflite")
    assert json.loads((newest / "lipkeras.json").read_text())["precision"] == "int8"
    faces = read_fer_faces(shared_data, per_label=10)
    int8 = EmotionReader(str(newest / "model.tflite"), views=1).predict_faces(faces)
    float32 = EmotionReader(name, views=1).predict_faces(faces)
    assert int8.shape == float32.shape == (70, 7) and np.allclose(int8.sum(1), 1, atol=0.02)  # softmax in 1/256 steps
    assert (int8.argmax(1) == float32.argmax(1)).mean() >= 0.9
    assert np.abs(int8 - float32).mean() < 0.03


def test_saved_model_cli_lists_the_signatures():
    out = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--all",
                          "--dir", str(latest("grid_lipreader"))], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for signature in ("serving_default", "frames_uint8", "tf_example"):
        assert f"signature_def['{signature}']" in out.stdout
    assert "'text'" in out.stdout and "DT_STRING" in out.stdout and "'frame_lengths'" in out.stdout


def test_export_writes_a_new_version_atomically(tmp_path):
    from lipkeras.cli import main
    from lipkeras.export import ExportError, export_saved_model

    assert main(["export", "--model", "grid_lipreader", "--out", str(tmp_path)]) == 0
    assert main(["export", "--model", "grid_lipreader", "--out", str(tmp_path), "--name", "lips"]) == 0
    assert (tmp_path / "grid_lipreader" / "1" / "saved_model.pb").is_file()
    with pytest.raises(ExportError, match="exists"):
        export_saved_model("grid_lipreader", out=tmp_path, version=1)
    second = export_saved_model("grid_lipreader", out=tmp_path)
    assert second.name == "2"
    # every weight stored once (tracking the model as well as the endpoints stores it twice: keras#23553)
    from lipkeras.lipreader import LipReader

    checkpoint = tf.train.load_checkpoint(str(second / "variables" / "variables"))
    dtypes = checkpoint.get_variable_to_dtype_map()
    stored = sum(int(np.prod(shape)) for key, shape in checkpoint.get_variable_to_shape_map().items()
                 if dtypes[key].is_floating)
    assert stored == LipReader("grid_lipreader").model.count_params()
    assert sorted(p.name for p in (tmp_path / "grid_lipreader").iterdir()) == ["1", "2"]  # no temp folder left
    assert main(["export", "--model", "no_such_model", "--out", str(tmp_path)]) == 1
    config = (tmp_path / "models.config").read_text()  # TF Serving's --model_config_file
    assert 'name: "grid_lipreader"' in config and 'base_path: "/models/lips"' in config


def test_tflite_matches_keras(tmp_path, mouth_clips, fer_faces):
    from lipkeras.emotion import EmotionReader
    from lipkeras.export import ExportError
    from lipkeras.export.tflite import export_tflite
    from lipkeras.lipreader import LipReader, prepare_frames

    reader = LipReader("grid_lipreader")
    path = export_tflite("grid_lipreader", out=tmp_path)
    assert path == tmp_path / "grid_lipreader" / "tflite" / "1" / "model.tflite"
    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    _, mouths = mouth_clips
    frames = prepare_frames(mouths[0], reader.meta["crop_size"])[None, :60]
    got = runner(frames=frames, frame_lengths=np.array([60], np.int32))["log_probs"]
    expected = tf.nn.log_softmax(reader.logits(frames, np.array([60], np.int32))).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4)

    emotion = EmotionReader("fer_emotion", views=1)  # the TFLite export computes one view per face
    path = export_tflite("fer_emotion", out=tmp_path)
    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    got = runner(faces=fer_faces.astype(np.float32) / 255)["probabilities"]
    np.testing.assert_allclose(got, emotion.predict_faces(fer_faces), atol=1e-5)
    assert json.loads((path.parent / "lipkeras.json").read_text())["views"] == 1

    with pytest.raises(ExportError, match="crossmodal"):
        export_tflite("grid_crossmodal", out=tmp_path)


def test_int8_tflite_emotion_model_runs_in_the_reader(tmp_path, shared_data, fer_faces, capfd):
    """int8 post-training quantization calibrated on real FER faces: float32 in/out, int8 inside;
    ``EmotionReader`` runs the flatbuffer (labels from its lipkeras.json) with test-time views."""
    import shutil

    from lipkeras.emotion import EmotionReader
    from lipkeras.export import ExportError
    from lipkeras.export.tflite import export_tflite
    from lipkeras.models import EmotionCNN

    labels = ("angry", "happy", "neutral")
    import keras

    keras.utils.set_random_seed(0)  # the same random network every run (its int8 error depends on its weights)
    model = EmotionCNN(labels=labels, input_size=48, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=1,
                       dense_units=8)
    (tmp_path / "emo").mkdir()
    model.save(tmp_path / "emo" / "model.keras")
    cal = tmp_path / "cal"
    for name in labels:
        (cal / name).mkdir(parents=True)
        for f in sorted((shared_data / "fer2013" / "train" / name).glob("*.png"))[10:14]:
            shutil.copy(f, cal / name / f.name)
    with pytest.raises(ExportError, match="calibration-data"):
        export_tflite(str(tmp_path / "emo"), name="emo", out=tmp_path / "out", quantize="int8")
    path = export_tflite(str(tmp_path / "emo"), name="emo", out=tmp_path / "out", quantize="int8",
                         calibration_data=cal, calibration_count=10)
    info = json.loads((path.parent / "lipkeras.json").read_text())
    assert info["precision"] == "int8" and info["quantization"]["calibration_faces"] == 10
    interpreter = tf.lite.Interpreter(model_path=str(path))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    assert any(d["dtype"] == np.int8 for d in interpreter.get_tensor_details())  # int8 inside

    capfd.readouterr()
    reader = EmotionReader(str(path.parent), views=1)  # the folder of model.tflite
    assert reader.labels == labels and (reader.size, reader.channels) == (48, 1)
    probs = reader.predict_faces(fer_faces)
    assert "XNNPACK" not in capfd.readouterr().err  # the delegate's INFO line stays off the user's stderr
    keras_probs = np.asarray(model.predict_on_batch(fer_faces.astype(np.float32) / 255))
    assert probs.shape == keras_probs.shape
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-2)
    # int8 rounding, not another function: small on average, bounded everywhere (measured over six
    # random networks: mean 0.002-0.004, max 0.008-0.031; unseeded runs reached 0.087 at worst)
    assert np.abs(probs - keras_probs).mean() < 0.01
    np.testing.assert_allclose(probs, keras_probs, atol=0.1)
    mirrored = reader.predict_faces(fer_faces[:, :, ::-1])
    np.testing.assert_allclose(EmotionReader(str(path), views=2).predict_faces(fer_faces), (probs + mirrored) / 2,
                               atol=1e-6)
    with pytest.raises(ValueError, match="precision it was exported with"):
        EmotionReader(str(path), precision="bfloat16")
    with pytest.raises(ExportError, match="int8 quantization covers emotion models"):
        export_tflite("grid_lipreader", out=tmp_path / "out", quantize="int8", calibration_data=cal)


def test_int8_calibration_skips_unreadable_faces_with_their_reasons(tmp_path, shared_data, capfd):
    import shutil

    from lipkeras.export import ExportError
    from lipkeras.export.tflite import calibration_faces

    cal = tmp_path / "cal" / "happy"
    cal.mkdir(parents=True)
    for f in sorted((shared_data / "fer2013" / "train" / "happy").glob("*.png"))[:3]:
        shutil.copy(f, cal / f.name)
    (cal / "empty.png").write_bytes(b"")
    (cal / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    faces = calibration_faces(tmp_path / "cal", 48, 1, count=5)
    assert faces.shape == (3, 48, 48, 1) and 0.0 <= faces.min() <= faces.max() <= 1.0
    err = capfd.readouterr().err
    assert "empty.png: " in err and "corrupt.jpg: " in err and err.count("not used for calibration") == 2
    assert len(calibration_faces(tmp_path / "cal", 48, 1, count=2)) == 2  # stops once it has enough
    shutil.rmtree(tmp_path / "cal")
    cal.mkdir(parents=True)
    (cal / "empty.png").write_bytes(b"")
    with pytest.raises(ExportError, match="no readable images"):
        calibration_faces(tmp_path / "cal", 48, 1)
