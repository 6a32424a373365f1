"""The shipped speech emotion model: `lipkeras emotion` on audio, `lipkeras evaluate --stage emotion` on
audio records, its SavedModel export and `lipkeras serve` answering as the Keras model does."""

from __future__ import annotations

import json
import signal
import wave
from pathlib import Path

import numpy as np
import pytest
import requests

from lipkeras import _quiet

_quiet.import_tensorflow()

from conftest import REPO, SHARED_DATA, latest_export
from test_serve import start_server

NAME = "speech_emotion"
RAVDESS = SHARED_DATA / "ravdess_speech"


@pytest.fixture(scope="module")
def test_actor_wavs():
    if not RAVDESS.is_dir():
        pytest.skip(f"real data not available: {RAVDESS}")
    files = sorted((RAVDESS / "Actor_17").glob("*.wav"))  # a test actor: never trained or validated on
    return files[::15][:4]


@pytest.fixture(scope="module")
def reader():
    from lipkeras.emotion import SpeechEmotionReader

    return SpeechEmotionReader(NAME)


def test_shipped_metadata(reader):
    meta = json.loads((REPO / "saved_models" / NAME / "lipkeras.json").read_text())
    assert meta["kind"] == "speech_emotion" and meta["sample_rate"] == 16000 and meta["max_seconds"] > 0
    assert tuple(meta["labels"]) == reader.labels and len(reader.labels) == 8
    assert meta["confidence"]["temperature"] > 0
    assert (REPO / "saved_models" / NAME / "model.keras").stat().st_size < 40e6


def test_cli_emotion_on_audio(test_actor_wavs, tmp_path, capsys):
    from lipkeras.cli import main

    silent = tmp_path / "silent.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(16000, "<i2").tobytes())
    rc = main(["emotion", str(test_actor_wavs[0]), str(silent), "--json"])
    out, err = capsys.readouterr()
    lines = [json.loads(x) for x in out.strip().splitlines()]
    assert rc == 1  # one input failed, the other was read
    good = lines[0]
    assert good["modality"] == "audio" and set(good["streams"]) == {"speech"} and good["model"] == NAME
    assert good["label"] in good["probs"] and good["streams"]["speech"]["probs"] == good["probs"]
    assert "error" in lines[1] and err.strip().splitlines() == [f"lipkeras emotion: {silent}: silent audio "
                                                                f"(RMS -inf dBFS, under -60; peak under -50 dBFS)"]
    assert main(["emotion", str(test_actor_wavs[0]), "--modality", "av"]) != 0
    assert "an audio file has no face" in capsys.readouterr().err


def test_cli_emotion_modality_audio_on_a_video(capsys):
    from lipkeras.cli import main

    video = SHARED_DATA / "cremad_sample" / "1001_DFA_ANG_XX.flv"
    if not video.is_file():
        pytest.skip(f"real data not available: {video}")
    assert main(["emotion", str(video), "--modality", "audio", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["modality"] == "audio" and set(r["streams"]) == {"speech"}


def test_evaluate_scores_audio_records(test_actor_wavs, tmp_path, capsys):
    import shutil

    from lipkeras.cli import main
    from lipkeras.preprocess import PreprocessConfig, run

    root = tmp_path / "in" / "Actor_17"
    root.mkdir(parents=True)
    for f in test_actor_wavs:
        shutil.copy(f, root / f.name)
    run(root.parent, tmp_path / "rec", PreprocessConfig(dataset="ravdess", audio=True, split_name="test", workers=1,
                                                        val_speakers=(), test_speakers=("17",)), progress=False)
    rc = main(["evaluate", "--stage", "emotion", "--model", NAME, "--data", str(tmp_path / "rec"), "--json",
               "--csv", str(tmp_path / "eval.csv")])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["modality"] == "audio" and result["main"] == "clip"
    assert result["clip"]["samples"] == len(test_actor_wavs) and "accuracy_ci95" in result["clip"]
    assert result["clips_per_second"] > 0 and Path(result["confusion_png"]).is_file()


def test_export_and_serve_match_keras(reader, test_actor_wavs):
    path, meta = latest_export(NAME)
    assert meta["kind"] == "speech_emotion" and meta["labels"] == list(reader.labels)
    assert meta["max_seconds"] == reader.max_seconds
    waves = [reader.centre(reader.load_audio(f)) for f in test_actor_wavs[:2]]
    expected = reader.predict_waveforms(waves)
    width = max(len(w) for w in waves)
    batch = np.zeros((len(waves), width), np.float32)
    for i, w in enumerate(waves):
        batch[i, :len(w)] = w
    proc, url = start_server("--model-base-path", "saved_models", "--models", NAME)
    try:
        answer = requests.post(f"{url}/v1/models/{NAME}:predict", json={
            "inputs": {"waveform": batch.tolist(), "lengths": [len(w) for w in waves]}})
        assert answer.status_code == 200, answer.text
        out = answer.json()["outputs"]
        np.testing.assert_allclose(out["probabilities"], expected, atol=1e-4)
        assert out["label"] == [reader.labels[i] for i in expected.argmax(1)]
        assert np.asarray(out["embedding"]).shape == (len(waves), reader.model.config["embedding_units"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
