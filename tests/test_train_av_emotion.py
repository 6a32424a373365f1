"""``--stage av-emotion``: two steps on audio-visual records of real CREMA-D clips; resume; ship."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from tests.conftest import SHARED_DATA

CREMAD = SHARED_DATA / "cremad_sample"
SPEECH = ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.fixture(scope="session")
def cremad_av_records(tmp_path_factory):
    """Face + audio records of two real CREMA-D clips (happy, sad)."""
    if not (CREMAD / "1001_DFA_HAP_XX.flv").is_file():
        pytest.skip(f"{CREMAD}: CREMA-D sample absent")
    from lipkeras.preprocess import PreprocessConfig, run

    src = tmp_path_factory.mktemp("cremad")
    for name in ("1001_DFA_HAP_XX.flv", "1001_DFA_SAD_XX.flv"):
        shutil.copy(CREMAD / name, src / name)
    out = tmp_path_factory.mktemp("cremad_av")
    run(src, out, PreprocessConfig(dataset="cremad", rois=("face",), audio=True, workers=1), progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_streams(tmp_path_factory):
    """A tiny speech stand-in (with its lipkeras.json) and a tiny EmotionCNN, saved."""
    import lipkeras.models  # noqa: F401
    from lipkeras.models import EmotionCNN
    from lipkeras.models.av_emotion import speech_stand_in

    root = tmp_path_factory.mktemp("streams")
    (root / "speech").mkdir()
    speech_stand_in(SPEECH, n_mels=16, units=8, lstm_units=8, embedding_units=16).save(root / "speech" / "model.keras")
    (root / "speech" / "lipkeras.json").write_text(json.dumps({"labels": list(SPEECH)}))
    EmotionCNN(input_size=16, filters=(4, 8), kernel_sizes=(3, 3), dense_units=8).save(root / "face.keras")
    return root / "speech", root / "face.keras"


@pytest.mark.parametrize("fusion", ["bel", "mobel"])
def test_two_steps_on_cremad_records_then_resume_and_ship(fusion, cremad_av_records, tiny_streams, tmp_path):
    from lipkeras.train.__main__ import main

    speech, face = tiny_streams
    out = tmp_path / "run"
    argv = ["--stage", "av-emotion", "--data", str(cremad_av_records), "--speech-model", str(speech),
            "--face-model", str(face), "--fusion", fusion, "--out", str(out), "--epochs", "1",
            "--steps-per-epoch", "2", "--batch-size", "1", "--max-seconds", "1.0", "--ship", str(tmp_path / "ship")]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and summary["train_examples"] == 2 and summary["labels"] == list(SPEECH)
    assert set(summary["val_accuracy_by_stream"]) == {"probabilities", "speech", "face"}
    for f in ("config.json", "history.csv", "best.keras", "last.keras", "model.keras", "lipkeras.json"):
        assert (out / f).is_file(), f
    shipped = tmp_path / "ship"
    meta = json.loads((shipped / "lipkeras.json").read_text())
    assert meta["kind"] == "av_emotion" and meta["fusion"] == fusion and meta["key_frames"] == 12
    model = keras.saving.load_model(shipped / "model.keras", compile=False)
    x = {"waveform": np.zeros((1, 16000), "float32"), "lengths": np.array([16000], "int32"),
         "faces": np.zeros((1, 12, 16, 16, 1), "float32")}
    assert model.predict(x, verbose=0).shape == (1, 8)


def test_a_killed_run_resumes(cremad_av_records, tiny_streams, tmp_path, monkeypatch):
    from lipkeras.train import callbacks as cb
    from lipkeras.train.__main__ import main

    speech, face = tiny_streams
    out = tmp_path / "run"
    argv = ["--stage", "av-emotion", "--data", str(cremad_av_records), "--speech-model", str(speech),
            "--face-model", str(face), "--out", str(out), "--epochs", "2", "--steps-per-epoch", "2",
            "--batch-size", "1", "--max-seconds", "1.0"]
    real = cb.EpochTimer.on_epoch_end

    def crash(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed")
        return real(self, epoch, logs)

    monkeypatch.setattr(cb.EpochTimer, "on_epoch_end", crash)
    with pytest.raises(RuntimeError, match="killed"):
        main(argv)
    monkeypatch.setattr(cb.EpochTimer, "on_epoch_end", real)
    assert main(argv) == 0
    epochs = [line.split(",")[0] for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == ["0", "1"]  # resumed at epoch 1, not restarted


def test_joint_training_with_a_3dcnn_face_stream(cremad_av_records, tiny_streams, tmp_path):
    from lipkeras.train.__main__ import main

    speech, _ = tiny_streams
    out = tmp_path / "run"
    assert main(["--stage", "av-emotion", "--data", str(cremad_av_records), "--speech-model", str(speech),
                 "--face-model", "clip3d", "--face-size", "16", "--fusion", "mobel", "--out", str(out),
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--max-seconds", "1.0"]) == 0
    assert json.loads((out / "summary.json").read_text())["joint"] is True


def test_bad_options_are_one_line_errors(capsys, tmp_path):
    from lipkeras.train.__main__ import main

    assert main(["--stage", "av-emotion", "--fusion", "late", "--out", str(tmp_path / "r")]) == 2
    assert "fusion must be" in capsys.readouterr().err
    assert main(["--stage", "av-emotion", "--data", str(tmp_path / "none"), "--speech-model", str(tmp_path / "x"),
                 "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lipkeras train: error:" in err[0]
