"""Speech emotion: SpeechEmotionCRNN at tiny shapes, the audio reader, a two-step training run on real
RAVDESS clips, and SpeechEmotionReader on good and bad audio."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()

import keras
from conftest import SHARED_DATA, write_video

from lipkeras.models import SpeechEmotionCRNN
from lipkeras.models.speech_emotion import PooledFrameMask
from lipkeras.preprocess.errors import SkipInput

SR = 16000
TINY = dict(labels=("angry", "happy", "sad"), n_mels=16, filters=(4, 8), time_pools=(2, 2), freq_pools=(2, 2),
            lstm_units=8, embedding_units=6, time_mask_width=4, freq_mask_width=2)
TINY_FLAGS = ["--n-mels", "16", "--filters", "4,8", "--time-pools", "2,2", "--freq-pools", "2,2", "--lstm-units",
              "8", "--embedding-units", "6", "--time-mask-width", "4", "--freq-mask-width", "2"]
RAVDESS = SHARED_DATA / "ravdess_speech"


def _inputs(batch=2, samples=4000, lengths=None, seed=0):
    rng = np.random.default_rng(seed)
    w = (0.3 * rng.standard_normal((batch, samples))).astype("float32")
    return {"waveform": w, "lengths": np.asarray(lengths or [samples] * batch, "int32")}


def test_shapes_config_and_embedding():
    model = SpeechEmotionCRNN(**TINY)
    x = _inputs()
    assert model(x).shape == (2, 3)
    assert model.labels == ("angry", "happy", "sad") and model.sample_rate == SR
    emb = model.embedding_model()
    assert emb(x).shape == (2, 6)
    assert emb.get_layer("embedding") is model.get_layer("embedding")  # shares the weights
    clone = SpeechEmotionCRNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="one time pool"):
        SpeechEmotionCRNN(filters=(4, 8), time_pools=(2,), freq_pools=(2, 2))


def test_save_load_parity(tmp_path):
    model = SpeechEmotionCRNN(**TINY)
    x = _inputs(lengths=[4000, 2500])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, SpeechEmotionCRNN)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)


def test_padding_is_masked():
    model = SpeechEmotionCRNN(**TINY)
    x = _inputs(lengths=[4000, 2500])
    noisy = {"waveform": x["waveform"].copy(), "lengths": x["lengths"]}
    noisy["waveform"][1, 2500:] = 0.9  # what lies past a clip's length must not count
    np.testing.assert_allclose(model(noisy), model(x), atol=1e-6)
    zeroed = {"waveform": x["waveform"].copy(), "lengths": x["lengths"]}
    zeroed["waveform"][1, 2500:] = 0.0
    np.testing.assert_allclose(model(zeroed), model(x), atol=1e-6)
    # each pooled step is real when any of its frames is; at least one step per clip
    mask = PooledFrameMask(400, 160, 4)([np.array([4000, 2500, 10], "int32"), np.zeros((3, 6, 2), "float32")])
    # 4000 samples: 23 frames → 6 steps; 2500: 14 frames → 4 steps; 10: no frame → 1 step
    assert np.asarray(mask).sum(1).tolist() == [6, 4, 1]


def test_spec_augment_only_in_training():
    model = SpeechEmotionCRNN(**{**TINY, "conv_dropout": 0.0, "dropout": 0.0})
    x = _inputs()
    np.testing.assert_allclose(model(x, training=False), model(x, training=False))
    spec = keras.Model(model.inputs, model.get_layer("spec_augment").output)
    assert not np.allclose(spec(x, training=True), spec(x, training=False))


# ------------------------------------------------------------------------------- records and training


def _ravdess_files():
    if not RAVDESS.is_dir():
        pytest.skip(f"real data not available: {RAVDESS} is absent (set LIPKERAS_SHARED)")
    pick = []
    for actor in ("01", "15", "17"):  # train, val, test actors of lipkeras/splits/ravdess_speech
        files = sorted((RAVDESS / f"Actor_{actor}").glob("*.wav"))
        for emotion in ("03", "04", "05", "05"):  # happy, sad, angry, angry
            pick.append([f for f in files if f.name.split("-")[2] == emotion and f not in pick][0])
    return pick


@pytest.fixture(scope="module")
def audio_records(tmp_path_factory) -> Path:
    """Audio records of 12 real RAVDESS clips (actors 01 / 15 / 17: train / val / test) and one
    record without audio."""
    import shutil

    from lipkeras.preprocess import PreprocessConfig, run
    from lipkeras.records import schema
    from lipkeras.records.io import AtomicShardWriter

    root = tmp_path_factory.mktemp("ravdess")
    for f in _ravdess_files():
        (root / f.parent.name).mkdir(exist_ok=True)
        shutil.copy(f, root / f.parent.name / f.name)
    out = tmp_path_factory.mktemp("audio_records")
    run(root, out, PreprocessConfig(dataset="ravdess", audio=True, val_speakers=("15",), test_speakers=("17",),
                                    workers=1), progress=False)
    writer = AtomicShardWriter(out / "train-99999-of-99999.tfrecord")  # a video record written without --audio
    writer.write(schema.encode({"clip_id": "no_audio", "label": "happy", "split": "train", "speaker": "01"}))
    writer.commit()
    return out


def test_audio_dataset_crops_pads_and_skips(audio_records):
    from lipkeras.records.audio import audio_dataset, centre_crop_bounds

    labels = ("angry", "happy", "sad")
    batches = list(audio_dataset(audio_records, batch_size=4, labels=labels, max_seconds=1.0, split="train"))
    clip_ids = [c.decode() for b in batches for c in b["clip_id"].numpy()]
    assert len(clip_ids) == 4 and "no_audio" not in clip_ids
    b = batches[0]
    assert b["waveform"].shape == (4, SR) and b["waveform"].dtype == np.float32
    assert b["lengths"].numpy().tolist() == [SR] * 4  # RAVDESS clips are longer than 1 s
    assert set(b["label"].numpy().tolist()) <= {0, 1, 2}
    # eval: the centred window, exactly
    from lipkeras.records.reader import records
    from lipkeras.records.schema import decode_numpy

    first = next(r for r in map(decode_numpy, records(audio_records).as_numpy_iterator())
                 if r["clip_id"] == clip_ids[0])
    start, stop = centre_crop_bounds(len(first["audio"]), SR)
    np.testing.assert_allclose(b["waveform"][0].numpy(), first["audio"][start:stop] / 32768.0)
    # training: a random window of the same size; a window longer than the clip pads and says so
    train = next(iter(audio_dataset(audio_records, batch_size=4, training=True, labels=labels, max_seconds=1.0,
                                    split="train", gain_db=6.0, seed=1)))
    assert train["waveform"].shape == (4, SR)
    long = next(iter(audio_dataset(audio_records, batch_size=4, labels=labels, max_seconds=10.0, split="train")))
    n = long["lengths"].numpy()
    assert long["waveform"].shape == (4, 10 * SR) and (n < 10 * SR).all()
    assert not long["waveform"].numpy()[0, n[0]:].any()


@pytest.fixture(scope="module")
def trained_run(audio_records, tmp_path_factory) -> Path:
    from lipkeras.train.__main__ import main

    out = tmp_path_factory.mktemp("run") / "speech"
    rc = main(["--stage", "audio-emotion", "--data", str(audio_records), "--out", str(out), "--epochs", "2",
               "--steps-per-epoch", "1", "--batch-size", "4", "--max-seconds", "1.0", *TINY_FLAGS])
    assert rc == 0
    return out


def test_training_two_steps(trained_run):
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["stage"] == "audio-emotion" and summary["epochs_run"] == 2
    assert summary["labels"] == ["angry", "happy", "sad"]
    assert summary["clips"] == {"train": 4, "val": 4, "test": 4}
    assert summary["test_clips"] == 4 and 0.0 <= summary["test_accuracy"] <= 1.0
    for f in ("best.keras", "last.keras", "history.csv", "curves.png", "config.json", "clip_splits.json",
              "test_metrics.json"):
        assert (trained_run / f).is_file(), f
    metrics = json.loads((trained_run / "test_metrics.json").read_text())
    assert np.asarray(metrics["confusion_matrix"]).shape == (3, 3) and "macro_f1_ci95" in metrics
    model = keras.saving.load_model(trained_run / "best.keras", compile=False)
    assert isinstance(model, SpeechEmotionCRNN) and model.get_config()["filters"] == (4, 8)


def test_training_resumes(audio_records, tmp_path, monkeypatch):
    """A run killed in its second epoch resumes from its backup: only the epochs left are trained."""
    from lipkeras.train import callbacks as cb
    from lipkeras.train.__main__ import main

    real = cb.EpochTimer.on_epoch_end

    def killed(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed")
        return real(self, epoch, logs)

    args = ["--stage", "audio-emotion", "--data", str(audio_records), "--out", str(tmp_path / "run"), "--epochs", "3",
            "--steps-per-epoch", "1", "--batch-size", "4", "--max-seconds", "1.0", *TINY_FLAGS]
    monkeypatch.setattr(cb.EpochTimer, "on_epoch_end", killed)
    with pytest.raises(RuntimeError, match="killed"):
        main(args)
    monkeypatch.setattr(cb.EpochTimer, "on_epoch_end", real)
    assert main(args) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs_run"] == 2
    assert len((tmp_path / "run" / "history.csv").read_text().strip().splitlines()) == 4  # header + 3 epochs


def test_bad_split_is_one_line(audio_records, tmp_path, capsys):
    from lipkeras.train.__main__ import main

    rc = main(["--stage", "audio-emotion", "--data", str(audio_records), "--out", str(tmp_path / "x"),
               "--labels", "fear", "--epochs", "1", *TINY_FLAGS])
    err = capsys.readouterr().err
    assert rc == 2 and "need labelled training and validation clips" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------ the reader


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.asarray(samples, "<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def reader(trained_run):
    from lipkeras.emotion import SpeechEmotionReader

    return SpeechEmotionReader(str(trained_run / "best.keras"))


def test_reader_predicts_real_audio(reader, audio_records):
    wav = _ravdess_files()[0]
    r = reader.predict_file(wav)
    assert r["modality"] == "audio" and r["label"] in reader.labels
    assert abs(sum(r["probs"].values()) - 1.0) < 1e-3 and 0.0 < r["confidence"] <= 1.0
    assert reader.max_seconds == 1.0  # from the run's config.json
    # the file's centred window is what the eval reader gives the model
    from lipkeras.records.audio import audio_dataset

    batch = next(iter(audio_dataset(audio_records, batch_size=1, max_seconds=1.0, clip_ids=[
        f"{wav.parent.name}/{wav.stem}"])))
    expected = reader.model.predict_on_batch({"waveform": batch["waveform"], "lengths": batch["lengths"]})[0]
    np.testing.assert_allclose([r["probs"][k] for k in reader.labels], expected, atol=2e-4)
    assert reader.embed_waveforms([reader.load_audio(wav)]).shape == (1, 6)


def test_reader_reads_video_and_mp3_audio(reader):
    cremad = SHARED_DATA / "cremad_sample"
    if not cremad.is_dir():
        pytest.skip(f"real data not available: {cremad}")
    for f in ("1001_DFA_ANG_XX.flv", "1002_DFA_HAP_XX.mp3"):
        r = reader.predict_file(cremad / f)
        assert r["label"] in reader.labels and r["audio_seconds"] > 1.0


@pytest.mark.parametrize("kind, reason", [
    ("empty", "empty file"),
    ("corrupt", "corrupt"),
    ("zeros", "silent audio (RMS -inf dBFS"),
    ("hiss", "silent audio"),
    ("short", "audio too short"),
    ("no_track", "no audio stream"),
])
def test_reader_bad_audio_is_one_line(reader, tmp_path, kind, reason):
    if kind == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
    elif kind == "corrupt":
        path = tmp_path / "corrupt.wav"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "zeros":
        path = _write_wav(tmp_path / "zeros.wav", np.zeros(2 * SR))
    elif kind == "hiss":  # ±1 LSB: -90 dBFS, a muted microphone
        path = _write_wav(tmp_path / "hiss.wav", np.random.default_rng(0).integers(-1, 2, 2 * SR))
    elif kind == "short":
        path = _write_wav(tmp_path / "short.wav", (3000 * np.random.default_rng(0).standard_normal(800)))
    else:
        path = write_video(tmp_path / "silent_film.mp4", np.zeros((5, 32, 32, 3), np.uint8))
    with pytest.raises(SkipInput, match=reason.replace("(", r"\(")) as err:
        reader.predict_file(path)
    assert "\n" not in str(err.value)
