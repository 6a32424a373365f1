"""Training without TensorFlow: arrays export, NumPy augmentation, the JAX backend, and the .keras
files it writes loading under TensorFlow with the same outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipkeras.records.arrays import ArraysError, downsample, load_arrays, save_arrays
from lipkeras.records.augment_arrays import affine, augment_faces, augment_mouths, center_mouths, padded_frames

REPO = Path(__file__).resolve().parents[1]
LABELS = ("angry", "happy", "sad")
# run in the child before anything else: any import of TensorFlow, MediaPipe or PyAV fails
BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "mediapipe", "av", "keras_cv", "keras_tuner", "jiwer"):
            raise ImportError("blocked in this test: " + name)
sys.meta_path.insert(0, _Block())
from lipkeras.train.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def _faces(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), n)
    x = rng.integers(0, 60, (n, 16, 16, 1)).astype(np.uint8)
    x[y == 1, 4:12, 4:12] += 150  # something to learn
    return x, y.astype(np.int8)


def _train_under_jax(args, tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", BLOCK, "--backend", "jax", *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run


def test_affine_matches_its_meaning():
    faces = np.random.default_rng(0).random((2, 16, 16, 1)).astype(np.float32)
    same = affine(faces, np.zeros(2), np.ones(2), np.zeros((2, 2)))
    np.testing.assert_allclose(same, faces, atol=1e-6)
    moved = affine(faces, np.zeros(2), np.ones(2), np.array([[0.0, 3.0], [2.0, 0.0]]))
    np.testing.assert_allclose(moved[0, :, 3:], faces[0, :, :-3], atol=1e-6)  # 3 px right
    np.testing.assert_allclose(moved[1, 2:], faces[1, :-2], atol=1e-6)  # 2 px down
    turned = affine(faces, np.array([90.0, 180.0]), np.ones(2), np.zeros((2, 2)))
    np.testing.assert_allclose(turned[1, ..., 0], faces[1, ::-1, ::-1, 0], atol=1e-5)


def test_augmentations_keep_shapes_ranges_and_lengths():
    rng = np.random.default_rng(1)
    x, _ = _faces(8)
    out = augment_faces(x, rng, rotation=0.05, zoom=0.1, translation=0.1, contrast=0.2, cutout=0.3)
    assert out.shape == x.shape and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
    assert not np.allclose(out, x / 255.0)
    clips = rng.integers(0, 255, (3, 30, 12, 12, 1)).astype(np.uint8)
    frames = padded_frames(30, 0.1)
    aug, n = augment_mouths(clips, np.array([30, 20, 26]), rng, 10, frames, speed_perturbation=0.1)
    assert aug.shape == (3, frames, 10, 10, 1) and frames == 34
    assert all(abs(int(v) - m) <= 0.12 * m + 1 for v, m in zip(n, (30, 20, 26)))
    assert np.all(aug[1, n[1]:] == 0)  # past its length a clip is padding
    assert center_mouths(clips, 10).shape == (3, 30, 10, 10, 1)


def test_arrays_file_round_trip_and_errors(tmp_path):
    x, y = _faces(5)
    arrays = {"kind": np.array("faces"), "labels": np.array(LABELS), "train_x": x, "train_y": y}
    for name in ("a.npz", "a.npz.xz"):
        back = load_arrays(save_arrays(tmp_path / name, arrays))
        np.testing.assert_array_equal(back["train_x"], x)
        assert str(back["kind"]) == "faces"
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically: no temp file left
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ArraysError, match="bad.npz: not a lipkeras arrays file"):
        load_arrays(tmp_path / "bad.npz")
    with pytest.raises(ArraysError, match="missing.npz: no such arrays file"):
        load_arrays(tmp_path / "missing.npz")


def test_downsample_is_the_models_own_resize():
    """Frames exported at half size equal what MouthPreprocessing computes inside the model."""
    import keras

    from lipkeras.layers.mouth_preprocessing import MouthPreprocessing

    clips = np.random.default_rng(2).integers(0, 255, (1, 2, 16, 16, 1)).astype(np.uint8)
    inputs = keras.Input((2, 16, 16, 1))
    model = keras.Model(inputs, MouthPreprocessing((8, 8), normalization=None)(inputs))
    model.compile(jit_compile=True)  # TensorFlow's CPU kernel has no unequal strides; XLA's has (as in the readers)
    np.testing.assert_allclose(downsample(clips, 2), model.predict(clips.astype("float32"), verbose=0), atol=0.51)


def test_emotion_trained_under_jax_loads_under_tensorflow(tmp_path):
    """``--backend jax --data faces.npz``: trains with TensorFlow unimportable, writes the house run
    folder, and its best.keras gives the same probabilities under TensorFlow as under JAX."""
    x, y = _faces(96)
    vx, vy = _faces(32, seed=1)
    save_arrays(tmp_path / "faces.npz", {"kind": np.array("faces"), "labels": np.array(LABELS), "train_x": x,
                                         "train_y": y, "val_x": vx, "val_y": vy})
    _train_under_jax(["--stage", "emotion", "--data", "faces.npz", "--out", "run", "--input-size", "16",
                      "--filters", "4,8", "--dense-units", "8", "--epochs", "3", "--batch-size", "16",
                      "--lr-schedule", "cosine", "--mixup", "0.2", "--checkpoint-every", "2"], tmp_path)
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["epochs_run"] == 3 and summary["train_faces"] == 96
    assert (run / "best.keras").is_file() and (run / "history.csv").read_text().count("\n") == 4

    import keras

    import lipkeras.models  # noqa: F401

    model = keras.saving.load_model(run / "best.keras", compile=False)
    assert keras.backend.backend() == "tensorflow" and tuple(model.labels) == LABELS
    probs = model.predict(vx.astype("float32") / 255.0, verbose=0)
    np.save(tmp_path / "faces.npy", vx.astype("float32") / 255.0)
    code = ("import numpy as np, keras, lipkeras.models; m = keras.saving.load_model('run/best.keras', compile=False);"
            "np.save('jax_probs.npy', np.asarray(m.predict(np.load('faces.npy'), verbose=0)))")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=300)
    np.testing.assert_allclose(probs, np.load(tmp_path / "jax_probs.npy"), atol=1e-5)


def test_lipreader_trained_under_jax_decodes_under_tensorflow(tmp_path):
    """``--stage lipnet --backend jax`` on mouth arrays: CTC training, validation WER each epoch
    (no jiwer there), and the checkpoint's logits match under TensorFlow."""
    from lipkeras.records.vocab import DEFAULT

    rng = np.random.default_rng(3)
    texts = ["bin blue at f two now", "lay red by g five again", "set white in a one soon"]
    n = 12

    def split(m, offset):
        t = [texts[(i + offset) % 3] for i in range(m)]
        y = np.zeros((m, 30), np.int8)
        for i, s in enumerate(t):
            y[i, :len(s)] = DEFAULT.encode(s)
        return {"x": rng.integers(0, 255, (m, 20, 20, 20, 1)).astype(np.uint8), "y": y,
                "lengths": np.full(m, 20, np.int32), "ids": np.array([f"c{offset}{i}" for i in range(m)]),
                "text": np.array(t)}

    arrays = {"kind": np.array("mouths"), "vocab": np.array(DEFAULT.chars), "scale": np.array(1)}
    for name, m, off in (("train", n, 0), ("val", 4, 1)):
        arrays.update({f"{name}_{k}": v for k, v in split(m, off).items()})
    save_arrays(tmp_path / "mouths.npz", arrays)
    _train_under_jax(["--stage", "lipnet", "--data", "mouths.npz", "--out", "run", "--model", "fast_tiny",
                      "--crop-size", "16", "--epochs", "2", "--batch-size", "4", "--speed-perturbation", "0.1",
                      "--train-ids", "", "--val-ids", "", "--test-ids", ""], tmp_path)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert "val_wer" in history[0] and len(history) == 3
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["train_clips"] == n and summary["best_val_wer"] is not None

    import keras

    import lipkeras.models  # noqa: F401

    model = keras.saving.load_model(tmp_path / "run" / "last.keras", compile=False)
    frames = center_mouths(arrays["val_x"], 16)
    logits = model.predict({"frames": frames, "frame_lengths": arrays["val_lengths"]}, verbose=0)
    assert logits.shape == (4, 20, DEFAULT.size) and np.isfinite(logits).all()


def test_other_backends_refuse_records_with_the_way_out(tmp_path):
    from lipkeras.train.__main__ import main

    assert main(["--stage", "lipnet", "--backend", "tensorflow", "--data", str(tmp_path / "x.npz"),
                 "--out", str(tmp_path / "r")]) == 2  # a missing arrays file: one line, no traceback
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "emotion", "--backend", "torch",
                          "--data", "faces/"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "lipkeras records export-npz" in run.stderr and "Traceback" not in run.stderr


def test_fewer_examples_than_a_batch_is_one_line_not_a_hang(tmp_path, capsys):
    from lipkeras.train.__main__ import main

    x, y = _faces(8)
    save_arrays(tmp_path / "few.npz", {"kind": np.array("faces"), "labels": np.array(LABELS), "train_x": x,
                                       "train_y": y, "val_x": x[:2], "val_y": y[:2]})
    assert main(["--stage", "emotion", "--backend", "tensorflow", "--data", str(tmp_path / "few.npz"),
                 "--out", str(tmp_path / "run"), "--input-size", "16", "--batch-size", "16"]) == 2
    err = capsys.readouterr().err
    assert "few.npz: 8 training examples, fewer than one batch" in err and "--batch-size 8" in err
    assert not (tmp_path / "run").exists()  # nothing half-written
