"""Pooled clip features and the classical emotion baselines (GNB, LDA, linear SVM, fusion, 1D CNN)."""

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from lipkeras.emotion import features as F
from lipkeras.models import classical


@pytest.fixture(scope="module")
def ravdess_small():
    """Pooled audio features of 24 real RAVDESS utterances: actors 01-02, 4 emotions, 3 each."""
    from lipkeras.preprocess.labels import parse_ravdess

    root = SHARED_DATA / "ravdess_speech"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    X, y = [], []
    for actor in ("01", "02"):
        for code, name in (("03", "happy"), ("04", "sad"), ("05", "angry"), ("06", "fear")):
            for f in sorted((root / f"Actor_{actor}").glob(f"03-01-{code}-*.wav"))[:3]:
                assert parse_ravdess(f)["emotion"] == name
                X.append(F.audio_features(F.load_audio(f)))
                y.append(name)
    return np.stack(X), np.array(y)


def test_feature_layouts():
    assert len(F.AUDIO_FEATURES) == 3 * 3 * F.N_MFCC == 180
    assert F.AUDIO_FEATURES[0] == "mean/mfcc0" and F.AUDIO_FEATURES[-1] == f"range/delta2_mfcc{F.N_MFCC - 1}"
    assert len(F.FACE_FEATURES) == 3 * (2 * 52 + 52) == 468 == len(set(F.FACE_FEATURES))
    assert F.FACE_FEATURES[0] == "mean/landmark33_x" and F.FACE_FEATURES[-1] == "range/blendshape_noseSneerRight"
    frames = np.array([[1.0, 5.0], [3.0, 1.0], [2.0, 3.0]])
    np.testing.assert_allclose(F.pool(frames), [2, 3, np.std([1, 3, 2]), np.std([5, 1, 3]), 2, 4], rtol=1e-6)
    with pytest.raises(ValueError, match="pool needs"):
        F.pool(np.zeros((0, 3)))


def test_audio_features_are_the_front_end_layers():
    """The pooled statistics are those of the library's LogMelSpectrogram → MFCC (+ deltas) layers."""
    from lipkeras.layers.audio_features import MFCC, LogMelSpectrogram

    rng = np.random.default_rng(0)
    pcm = (rng.normal(size=8000) * 3000).astype(np.int16)
    x = F.audio_features(pcm)
    assert x.shape == (180,) and x.dtype == np.float32
    frames = np.asarray(MFCC(n_mfcc=20, delta_order=2)(LogMelSpectrogram(n_mels=64)(pcm[None].astype(np.float32)
                                                                                   / 32768.0)))[0]
    assert frames.shape == (1 + (8000 - 400) // 160, 60)
    np.testing.assert_allclose(x, F.pool(frames), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="shorter than one"):
        F.audio_features(np.zeros(100, np.int16))
    with pytest.raises(ValueError, match="mono"):
        F.audio_features(np.zeros((2, 8000), np.int16))


def test_face_features_from_pixels_or_record_summary():
    """478 pixel points and the record's reference-unit summary give the same features; an image is
    one frame (std and range 0); the face's position and scale do not matter."""
    from lipkeras.preprocess import align
    from lipkeras.preprocess import landmarks as lmk

    ref = align.reference_face().astype(np.float64)  # [478, 2] reference units
    rng = np.random.default_rng(1)
    pix = np.stack([ref * 80 + [150, 120] + rng.normal(scale=0.5, size=ref.shape) for _ in range(4)])
    bs = rng.uniform(size=(4, 52)).astype(np.float32)
    x = F.face_features(pix, bs)
    assert x.shape == (468,)
    summary = align.apply(align.to_reference(pix), pix[:, list(lmk.SUMMARY)])
    np.testing.assert_allclose(F.face_features(summary, bs), x, rtol=1e-4, atol=1e-4)
    moved = F.face_features(pix[:1] * 2.0 + 30.0, bs[:1])
    np.testing.assert_allclose(moved, F.face_features(pix[:1], bs[:1]), atol=1e-4)
    assert np.all(moved[156:] == 0)  # one frame: std and range blocks are zero
    with pytest.raises(ValueError, match="blendshapes must be"):
        F.face_features(pix, bs[:2])
    with pytest.raises(ValueError, match="landmarks must be"):
        F.face_features(np.zeros((1, 10, 2)), bs[:1])


def test_face_features_of_a_real_fer_face():
    import cv2

    from lipkeras.preprocess.landmarks import FaceLandmarker

    files = sorted((SHARED_DATA / "fer2013" / "train" / "happy").glob("*.png"))[:5]
    if not files:
        pytest.skip("FER2013 faces are absent")
    with FaceLandmarker(video=False, max_faces=1, blendshapes=True) as lm:
        found = [F.image_face_features(lm, cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)) for f in files]
    found = [x for x in found if x is not None]
    assert found, "no face found in 5 upscaled FER faces"
    x = found[0]
    assert x.shape == (468,) and np.isfinite(x).all()
    blend = x[104:156]
    assert blend.min() >= 0 and blend.max() <= 1
    assert blend[list(F.BLENDSHAPE_NAMES).index("mouthSmileLeft")] > 0.1  # a happy face smiles


@pytest.mark.parametrize("kind", classical.CLASSIFIERS)
def test_baselines_on_real_ravdess(ravdess_small, kind, tmp_path):
    X, y = ravdess_small
    model = classical.ClassicalEmotion(kind, feature_names=F.AUDIO_FEATURES).fit(X, y)
    assert model.labels == ("angry", "fear", "happy", "sad")
    p = model.predict_proba(X)
    assert p.shape == (24, 4)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert np.mean(np.array(model.predict(X)) == y) > 0.5  # fits its own training utterances
    back = classical.load_classical(model.save(tmp_path / "m.joblib"))
    assert back.labels == model.labels and back.kind == kind
    np.testing.assert_allclose(back.predict_proba(X), p)
    assert not list(tmp_path.glob(".*tmp*"))


def test_fit_and_load_errors(tmp_path):
    X = np.zeros((6, 4), np.float32)
    with pytest.raises(ValueError, match="not in this model's labels"):
        classical.ClassicalEmotion("gnb", labels=("a", "b")).fit(X, np.array(["a", "b", "c"] * 2))
    with pytest.raises(ValueError, match="unknown classifier"):
        classical.ClassicalEmotion("knn")
    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="bad.joblib: not a saved classical emotion model"):
        classical.load_classical(bad)


def test_fusion(ravdess_small):
    X, y = ravdess_small
    both = classical.early_fusion(X, X[:, :10])
    assert both.shape == (24, 190)
    with pytest.raises(ValueError, match="same rows"):
        classical.early_fusion(X, X[:5])
    blocks = classical.early_fusion(np.array([[1, 2, 3]]), np.array([[10, 20, 30, 40, 50, 60]]), num_stats=3)
    np.testing.assert_array_equal(blocks, [[1, 10, 20, 2, 30, 40, 3, 50, 60]])
    pa = np.array([[0.6, 0.1, 0.3], [0.2, 0.2, 0.6]])  # labels a, b, calm
    pb = np.array([[0.5, 0.5], [0.1, 0.9]])  # labels b, a
    fused, labels = classical.late_fusion(pa, ("a", "b", "calm"), pb, ("b", "a"), "mean")
    assert labels == ("a", "b")
    np.testing.assert_allclose(fused[0], [(6 / 7 + 0.5) / 2, (1 / 7 + 0.5) / 2])
    prod, _ = classical.late_fusion(pa, ("a", "b", "calm"), pb, ("b", "a"), "product")
    np.testing.assert_allclose(prod.sum(1), 1.0)
    np.testing.assert_allclose(prod[1], np.array([0.5 * 0.9, 0.5 * 0.1]) / 0.5)
    merged = classical.restrict(pa, ("a", "b", "calm"), ("a", "neutral"), merge={"calm": "neutral"})
    np.testing.assert_allclose(merged[0], [0.6 / 0.9, 0.3 / 0.9])


def test_pooled_cnn_tiny_shapes_and_save_load(tmp_path):
    import keras

    from lipkeras.models import PooledFeatureCNN
    from lipkeras.records.io import save_keras_atomic

    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 30)).astype(np.float32) * 5 + 2
    y = rng.integers(0, 3, size=16)
    model = classical.pooled_cnn(("a", "b", "c"), X, filters=(4, 8), kernel_size=3, dense_units=8)
    assert isinstance(model, PooledFeatureCNN) and model.labels == ("a", "b", "c")
    assert model.output_shape == (None, 3)
    classical.fit_cnn(model, X, y, X, y, epochs=2, batch_size=8)
    p = np.asarray(model(X[:4]))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    path = save_keras_atomic(model, tmp_path / "cnn.keras")
    back = keras.models.load_model(path)
    assert type(back).__name__ == "PooledFeatureCNN" and back.get_config()["num_features"] == 30
    np.testing.assert_allclose(np.asarray(back(X[:4])), p, atol=1e-6)
    with pytest.raises(ValueError, match="equal blocks"):
        PooledFeatureCNN(labels=("a",), num_features=31)
