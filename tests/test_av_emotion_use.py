"""Audio-visual emotion in use: ``lipkeras emotion --modality av`` on a real CREMA-D clip, the face
fallback for a silent video, the SavedModel export and ``lipkeras serve``'s :predict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

CLIP = SHARED_DATA / "cremad_sample" / "1001_DFA_HAP_XX.flv"
SPEECH = ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.fixture(scope="module")
def av_model(tmp_path_factory):
    """A tiny AVEmotionModel saved as a model folder (model.keras + lipkeras.json)."""
    import lipkeras.models  # noqa: F401
    from lipkeras.models import AVEmotionModel, EmotionCNN
    from lipkeras.models.av_emotion import speech_stand_in

    folder = tmp_path_factory.mktemp("av") / "av_tiny"
    folder.mkdir()
    speech = speech_stand_in(SPEECH, n_mels=16, units=8, lstm_units=8, embedding_units=16)
    face = EmotionCNN(input_size=16, filters=(4, 8), kernel_sizes=(3, 3), dense_units=8)
    AVEmotionModel(speech, face, speech_labels=SPEECH, bel_mode="product").save(folder / "model.keras")
    (folder / "lipkeras.json").write_text(json.dumps({"kind": "av_emotion", "sample_rate": 16000, "max_seconds": 4.0,
                                                      "face_side": 2.7, "face_center_y": 0.3}))
    return folder


def _need_clip():
    if not CLIP.is_file():
        pytest.skip(f"{CLIP}: CREMA-D sample absent")


def test_emotion_av_on_a_real_cremad_clip(av_model, capsys):
    from lipkeras.cli import main

    _need_clip()
    assert main(["emotion", str(CLIP), "--modality", "av", "--av-model", str(av_model)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{CLIP}: ") and ", av) [speech " in lines[0] and ", face " in lines[0]
    assert main(["emotion", str(CLIP), "--av-model", str(av_model), "--json"]) == 0  # auto: av (it has sound)
    r = json.loads(capsys.readouterr().out)
    assert r["modality"] == "av" and r["label"] in SPEECH and set(r["streams"]) == {"speech", "face"}
    assert abs(sum(r["probs"].values()) - 1) < 1e-3 and r["key_frames"] == 12 and r["frames"] > 12


def test_a_video_without_sound_falls_back_to_the_face(av_model, tmp_path, capsys):
    import cv2

    from lipkeras.cli import main
    from lipkeras.preprocess.video import decode

    _need_clip()
    frames = decode(CLIP, fps=25.0, max_seconds=1.0).frames
    silent = tmp_path / "silent.avi"
    writer = cv2.VideoWriter(str(silent), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, frames[0].shape[1::-1])
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    assert main(["emotion", str(silent), "--modality", "av", "--av-model", str(av_model), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["modality"] == "face" and "no audio track" in r["note"] and set(r["streams"]) == {"face"}


def test_av_reader_rejects_a_face_model(tmp_path):
    from lipkeras.emotion.av import AVEmotionReader

    with pytest.raises(ValueError, match="not an audio-visual emotion model"):
        AVEmotionReader("fer_emotion")


def test_export_and_serve(av_model, tmp_path):
    from lipkeras.export import export_saved_model
    from lipkeras.serve.predict import predict
    from lipkeras.serve.repository import ModelRepository

    target = export_saved_model(str(av_model), name="av_tiny", version=1, out=tmp_path)
    meta = json.loads((target / "assets.extra" / "lipkeras.json").read_text())
    assert meta["kind"] == "av_emotion" and meta["labels"] == list(SPEECH)
    servable = ModelRepository(tmp_path).get("av_tiny")
    assert set(servable.input_specs("serving_default")) == {"waveform", "lengths", "faces"}
    rng = np.random.default_rng(0)
    request = {"inputs": {"waveform": (0.1 * rng.standard_normal((2, 8000))).tolist(), "lengths": [8000, 4000],
                          "faces": rng.random((2, 12, 16, 16, 1)).tolist()}}
    out = predict(servable, request)["outputs"]
    assert np.asarray(out["probabilities"]).shape == (2, 8) and out["label"][0] in SPEECH
    import keras

    model = keras.saving.load_model(av_model / "model.keras", compile=False)
    x = {k: np.asarray(v, "int32" if k == "lengths" else "float32") for k, v in request["inputs"].items()}
    np.testing.assert_allclose(out["probabilities"], model.predict(x, verbose=0), atol=1e-5)


def test_transcribe_json_reports_the_av_emotion_of_a_video_with_sound(capsys):
    from lipkeras.cli import main
    from lipkeras.lipreader import resolve

    _need_clip()
    try:
        resolve("av_emotion")
    except FileNotFoundError:
        pytest.skip("no shipped av_emotion")
    assert main(["transcribe", str(CLIP), "--json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "text" in r and r["av_emotion"]["label"] in r["av_emotion"]["probs"]
    assert set(r["av_emotion"]["streams"]) == {"speech", "face"} and r["av_emotion"]["model"] == "av_emotion"
