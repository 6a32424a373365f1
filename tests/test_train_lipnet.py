"""Training and using a lip reader on real GRID records (the bundled sample)."""

import json
import subprocess
import sys

import pytest


def test_two_training_steps_then_evaluate_and_resume(sample_records, tmp_path):
    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.lipreading import train

    out = tmp_path / "run"
    # the 4 sample clips are GRID s1 clips, but the GRID lists hold no validation clip of them: split them 2/2
    cfg = LipReadingConfig(data=str(sample_records), out=str(out), model="fast", epochs=1, steps_per_epoch=2,
                           batch_size=2, split_ratio="0.5,0.5", split_by="clip", examples=1)
    summary = train(cfg)
    assert summary["epochs_run"] == 1 and summary["train_clips"] == 2
    for f in ("config.json", "best.keras", "last.keras", "history.csv", "summary.json", "clip_splits.json",
              "val_ids.txt"):
        assert (out / f).exists(), f
    splits = json.loads((out / "clip_splits.json").read_text())
    assert splits["source"] == "ratio" and splits["counts"] == {"train": 2, "val": 2, "test": 0}
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "val_wer", "val_cer"} <= set(header)
    assert json.loads((out / "config.json").read_text())["batch_size"] == 2

    from lipkeras.evaluate import evaluate
    from lipkeras.lipreader import LipReader

    reader = LipReader(str(out))
    metrics, rows = evaluate(reader, str(sample_records), batch_size=2)
    assert metrics["clips"] == 4 and len(rows) == 4 and 0.0 <= metrics["cer"]


def test_evaluate_warns_about_clips_the_model_trained_on(sample_records, tmp_path, capsys):
    from lipkeras.cli import main
    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.lipreading import train

    out = tmp_path / "run"
    train(LipReadingConfig(data=str(sample_records), out=str(out), model="fast_tiny", crop_size=16, epochs=1,
                           steps_per_epoch=1, batch_size=2, split_ratio="0.5,0.5", split_by="clip", examples=0))
    capsys.readouterr()
    common = ["evaluate", "--model", str(out), "--data", str(sample_records), "--json", "--batch-size", "4",
              "--csv", str(tmp_path / "eval.csv")]
    assert main(common) == 0
    captured = capsys.readouterr()
    metrics = json.loads(captured.out.strip().splitlines()[-1])
    assert metrics["clips"] == 4 and metrics["trained_clips"] == 2
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "2 of the 4 clips" in warning[0] and "clip_splits.json" in warning[0]
    assert main(common + ["--ids", str(out / "val_ids.txt")]) == 0  # held-out clips only: no warning
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["trained_clips"] == 0 and "warning" not in captured.err


def test_killed_run_resumes_from_backup(sample_records, tmp_path, crash_in_epoch_2):
    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.lipreading import train
    from lipkeras.train.runner import data_seed

    cfg = LipReadingConfig(data=str(sample_records), out=str(tmp_path / "run"), model="fast_tiny", epochs=3,
                           steps_per_epoch=1, batch_size=2, split_ratio="0.5,0.5", split_by="clip", examples=0, seed=5)
    assert data_seed(cfg) == 5
    with pytest.raises(RuntimeError, match="killed"):
        train(cfg)
    crash_in_epoch_2()  # undo: the same run now resumes
    assert data_seed(cfg) == 6  # fresh augmentation after one epoch, not a replay of the first
    warm = LipReadingConfig(data=str(sample_records), out=str(tmp_path / "warm"), seed=5, init_from="run/last.keras")
    assert data_seed(warm) not in (5, 6)  # nor does a warm restart replay its parent run's samples
    summary = train(cfg)
    assert summary["epochs_run"] == 2  # epochs 2 and 3 only: epoch 1 came from the backup


def test_train_cli_help_and_bad_config():
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "lipnet", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--stage" in r.stdout and "--strategy" in r.stdout
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "lipnet", "--data", "/nonexistent",
                        "--out", "/tmp/x"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no .tfrecord shards" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "lipnet", "--precision", "float16"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "precision must be one of" in r.stderr and "Traceback" not in r.stderr


def test_every_option_has_a_help_line():
    from lipkeras.train.__main__ import parser
    from lipkeras.train.config import STAGE_CONFIGS

    for stage in STAGE_CONFIGS:
        options = [a for a in parser(stage)._actions if a.option_strings and a.dest != "help"]
        assert len(options) > 10, stage
        for a in options:
            text = (a.help or "").split("(default:")[0].strip()
            assert text, f"--stage {stage}: {a.option_strings[0]} has no help"
            if a.dest not in ("stage", "config", "backend"):
                assert "(default: " in a.help, (stage, a.dest)
    r = subprocess.run([sys.executable, "-m", "lipkeras", "train", "--stage", "decoder", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--split-ratio" in r.stdout and "clip_splits.json" in r.stdout


def test_optimizer_choice_keeps_the_schedule():
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    import keras

    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.runner import optimizer

    cfg = LipReadingConfig(epochs=4, learning_rate=0.1, min_learning_rate=1e-3, warmup_epochs=1, optimizer="sgd")
    sgd, adamw = optimizer(cfg, 10), optimizer(LipReadingConfig(epochs=4, learning_rate=0.1, min_learning_rate=1e-3,
                                                                warmup_epochs=1), 10)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    assert isinstance(adamw, keras.optimizers.AdamW)
    schedule = sgd.get_config()["learning_rate"]
    assert schedule == adamw.get_config()["learning_rate"]  # the same warm-up + cosine
    schedule = keras.optimizers.schedules.deserialize(schedule)
    for step, rate in ((0, 0.01), (10, 0.1), (40, 1e-3)):  # warm-up from lr/10, peak, cosine floor
        assert float(schedule(step)) == pytest.approx(rate)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        LipReadingConfig(optimizer="rmsprop")


def test_a_run_that_cannot_split_leaves_no_folder(tiny_records, tmp_path, capsys):
    from lipkeras.train.__main__ import main

    out = tmp_path / "run"
    assert main(["--stage", "lipnet", "--data", str(tiny_records), "--out", str(out), "--model", "fast_tiny",
                 "--val-ids", "no_such_clip"]) == 2
    assert "records: no validation clips from the given id lists" in capsys.readouterr().err
    assert not out.exists()
