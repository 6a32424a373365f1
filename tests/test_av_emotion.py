"""Audio-visual emotion: fusion layers (LabelAlignment, BEL, MoBEL), the AV models, key frames."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lipkeras.models  # noqa: F401
from lipkeras.layers.emotion_fusion import BELDecisionFusion, LabelAlignment, MoBELFusion
from lipkeras.models.av_emotion import AVEmotionModel, FaceClip3DCNN, key_frame_indices, key_frames, speech_stand_in

SPEECH = ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise")
FACE = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _roundtrip(layer_or_model, x, tmp_path):
    if isinstance(layer_or_model, keras.Model):
        model = layer_or_model
    else:
        ins = [keras.Input(np.shape(t)[1:]) for t in x] if isinstance(x, list) else keras.Input(np.shape(x)[1:])
        model = keras.Model(ins, layer_or_model(ins))
    before = model.predict(x, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    after = keras.saving.load_model(path).predict(x, verbose=0)
    np.testing.assert_allclose(before, after, atol=1e-6)
    return before


def test_label_alignment_maps_and_renormalises(tmp_path):
    layer = LabelAlignment(FACE, SPEECH)
    p = np.random.default_rng(0).dirichlet(np.ones(7), 3).astype("float32")
    out = _roundtrip(layer, p, tmp_path)
    assert out.shape == (3, 8)
    assert np.allclose(out[:, 1], 0) and np.allclose(out.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(out[:, 0], p[:, 0], atol=1e-6)
    assert layer.coverage.tolist() == [True, False] + [True] * 6
    assert LabelAlignment.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="no label in common"):
        LabelAlignment(("x",), ("y",))


def _streams(seed=0):
    rng = np.random.default_rng(seed)
    speech = rng.dirichlet(np.ones(8), 4).astype("float32")
    face = np.asarray(LabelAlignment(FACE, SPEECH)(rng.dirichlet(np.ones(7), 4).astype("float32")))
    return [speech, face]


COVERAGE = [[True] * 8, [True, False] + [True] * 6]


@pytest.mark.parametrize("mode", ["learned", "product", "mean"])
def test_bel_modes_shapes_config_and_save(mode, tmp_path):
    layer = BELDecisionFusion(8, 2, mode, COVERAGE)
    x = _streams()
    out = _roundtrip(layer, x, tmp_path)
    assert out.shape == (4, 8) and np.allclose(out.sum(1), 1, atol=1e-5)
    assert BELDecisionFusion.from_config(layer.get_config()).get_config() == layer.get_config()
    assert (out[:, 1] > 1e-4).all(), "a class the face stream lacks must not be vetoed by the product"


def test_bel_product_is_the_product_rule_and_learned_starts_there():
    x = _streams()
    product = np.asarray(BELDecisionFusion(8, 2, "product")(x))
    full = np.sqrt(x[0] * np.maximum(x[1], 1e-7))
    np.testing.assert_allclose(product, full / full.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    learned = BELDecisionFusion(8, 2, "learned", COVERAGE)
    product_cov = BELDecisionFusion(8, 2, "product", COVERAGE)
    np.testing.assert_allclose(np.asarray(learned(x)), np.asarray(product_cov(x)), atol=1e-5)
    mean = np.asarray(BELDecisionFusion(8, 2, "mean", COVERAGE, stream_weights=[3, 1])(x))
    w = np.array([0.75, 0.25])
    m = w[0] * x[0] + w[1] * x[1]
    m[:, 1] = x[0][:, 1]  # the face stream lacks 'calm': the speech stream's alone
    np.testing.assert_allclose(mean, m / m.sum(1, keepdims=True), atol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        BELDecisionFusion(8, 2, "max")


def test_bel_learned_fits_per_class_weights():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 8, 256)
    good = np.full((256, 8), 0.02, "float32")
    good[np.arange(256), y] = 0.86
    noise = rng.dirichlet(np.ones(8), 256).astype("float32")
    ins = [keras.Input((8,)), keras.Input((8,))]
    layer = BELDecisionFusion(8, 2, "learned")
    model = keras.Model(ins, layer(ins))
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
    model.fit([noise, good], y, epochs=30, verbose=0)
    weights = np.asarray(layer.stream_weights_per_class())
    assert (weights[1] > 0.8).all(), weights  # the informative stream wins every class


def test_mobel_shapes_config_save_and_inhibition(tmp_path):
    keras.utils.set_random_seed(0)  # the inhibition check below needs some active sensory units: seeded, not flaky
    layer = MoBELFusion(8, units=16, dropout=0.0)
    rng = np.random.default_rng(0)
    x = [rng.random((3, 10), dtype="float32"), rng.random((3, 6), dtype="float32")]
    out = _roundtrip(layer, x, tmp_path)
    assert out.shape == (3, 8) and np.allclose(out.sum(1), 1, atol=1e-5)
    assert MoBELFusion.from_config(layer.get_config()).get_config() == layer.get_config()
    logits = MoBELFusion(8, units=16, dropout=0.0, output="logits")
    ofc = logits.orbitofrontal
    y0 = np.asarray(logits(x))
    ofc.kernel.assign(np.ones_like(np.asarray(ofc.kernel)))
    y1 = np.asarray(logits(x))
    assert (y1 <= y0).all() and (y1 < y0).any()  # the orbitofrontal output inhibits the amygdala's


def test_key_frames_evenly_spaced():
    assert key_frame_indices(100).tolist() == [0, 9, 18, 27, 36, 45, 54, 63, 72, 81, 90, 99]
    short = key_frame_indices(3)
    assert len(short) == 12 and set(short.tolist()) == {0, 1, 2} and (np.diff(short) >= 0).all()
    assert key_frames(np.arange(30)[:, None, None, None]).shape == (12, 1, 1, 1)
    with pytest.raises(ValueError):
        key_frame_indices(0)


def _tiny_streams():
    from lipkeras.models import EmotionCNN

    speech = speech_stand_in(n_mels=16, units=8, lstm_units=8, embedding_units=16)
    face = EmotionCNN(input_size=16, filters=(4, 8), kernel_sizes=(3, 3), dense_units=8)
    return speech, face


def _inputs(batch=2, size=16):
    rng = np.random.default_rng(0)
    return {"waveform": (0.1 * rng.standard_normal((batch, 4000))).astype("float32"),
            "lengths": np.array([4000, 2500][:batch], "int32"),
            "faces": rng.random((batch, 12, size, size, 1)).astype("float32")}


def test_face_clip_3dcnn(tmp_path):
    model = FaceClip3DCNN(input_size=16, filters=(4, 8), embedding_units=16)
    x = np.random.rand(2, 12, 16, 16, 1).astype("float32")
    out = _roundtrip(model, x, tmp_path)
    assert out.shape == (2, 7) and model.get_layer("embedding").units == 16
    assert FaceClip3DCNN.from_config(model.get_config()).get_config() == model.get_config()


@pytest.mark.parametrize("fusion,mode", [("bel", "learned"), ("bel", "product"), ("bel", "mean"), ("mobel", None)])
def test_av_model_fusions(fusion, mode, tmp_path):
    speech, face = _tiny_streams()
    model = AVEmotionModel(speech, face, fusion=fusion, bel_mode=mode or "learned", speech_labels=SPEECH)
    assert model.labels == SPEECH
    x = _inputs()
    out = _roundtrip(model, x, tmp_path)
    assert out.shape == (2, 8) and np.allclose(out.sum(1), 1, atol=1e-5)
    streams = model.streams_model().predict(x, verbose=0)
    assert streams["face"].shape == (2, 8) and np.allclose(streams["face"][:, 1], 0)
    # the pooled face stream is the face model's mean probability over the key frames
    per_frame = face.predict(x["faces"].reshape(-1, 16, 16, 1), verbose=0).reshape(2, 12, 7).mean(1)
    np.testing.assert_allclose(np.delete(streams["face"], 1, axis=1), per_frame, atol=1e-5)
    head_in = model.features_model().predict(x, verbose=0)
    np.testing.assert_allclose(model.fusion_head().predict(head_in, verbose=0), out, atol=1e-5)
    assert not speech.trainable and not face.trainable  # pretrained streams frozen by default
    config = model.get_config()
    assert config["fusion"] == fusion and config["speech_labels"] == SPEECH


def test_av_model_with_3dcnn_trains_jointly():
    speech, _ = _tiny_streams()
    clip = FaceClip3DCNN(input_size=16, filters=(4, 8), embedding_units=16)
    model = AVEmotionModel(speech, clip, fusion="mobel", speech_labels=SPEECH, train_streams=True)
    assert len(model.trainable_weights) > len(model.fusion_layer.trainable_weights)
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(_inputs(), np.array([0, 4]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_features_of_still_faces_on_one_frame_equal_twelve_copies():
    speech, face = _tiny_streams()
    model = AVEmotionModel(speech, face, fusion="mobel", speech_labels=SPEECH)
    x = _inputs()
    x["faces"] = np.repeat(x["faces"][:, :1], 12, axis=1)
    twelve = model.features_model().predict(x, verbose=0)
    one = model.features_model(frames=1).predict({**x, "faces": x["faces"][:, :1]}, verbose=0)
    for a, b in zip(twelve, one):
        np.testing.assert_allclose(a, b, atol=1e-5)
