"""The cross-modal reader's three stages, one step each on real GRID records, then decoding with scores."""

import json
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def stage_runs(sample_records, tmp_path_factory):
    from lipkeras.train import integrate, language_model, visual
    from lipkeras.train.config import DecoderConfig, IntegrateConfig, VisualConfig

    root = tmp_path_factory.mktemp("runs")
    split = dict(split_ratio="0.5,0.5", split_by="clip")  # the 4 sample clips: 2 train, 2 validate
    common = dict(data=str(sample_records), epochs=1, steps_per_epoch=1, batch_size=2, examples=1, **split)
    lm = language_model.train(DecoderConfig(text=str(sample_records), out=str(root / "lm"), preset="tiny", epochs=1,
                                            steps_per_epoch=1, batch_size=4, **split))
    vis = visual.train(VisualConfig(out=str(root / "visual"), preset="tiny", decoder=str(root / "lm"), **common))
    integ = integrate.train(IntegrateConfig(out=str(root / "int"), visual=str(root / "visual"),
                                            decoder=str(root / "lm"), ctc_weight=0.3, **common))
    return root, {"decoder": lm, "visual": vis, "integrate": integ}


def test_each_stage_trains_saves_and_reports(stage_runs):
    root, summaries = stage_runs
    assert summaries["decoder"]["best_val_bpc"] > 0 and summaries["decoder"]["train_sentences"] == 2
    assert {"attention_loss", "ctc_loss", "val_wer"} <= set(summaries["integrate"]["last"])
    for stage in ("lm", "visual", "int"):
        for f in ("config.json", "best.keras", "last.keras", "history.csv", "summary.json"):
            assert (root / stage / f).exists(), (stage, f)
    assert (root / "int" / "lm.keras").exists()
    assert json.loads((root / "int" / "config.json").read_text())["ctc_weight"] == 0.3


def test_visual_stage_keeps_the_decoder_output_frozen(stage_runs):
    import keras

    import lipkeras.models  # noqa: F401

    root, _ = stage_runs
    lm = keras.saving.load_model(root / "lm" / "best.keras", compile=False)
    vis = keras.saving.load_model(root / "visual" / "last.keras", compile=False)
    for a, b in zip(lm.get_layer("decoder").output_layer.get_weights(), vis.get_layer("decoder_output").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_integrated_model_decodes_with_scores(stage_runs, sample_records):
    from lipkeras.evaluate import evaluate
    from lipkeras.lipreader import LipReader

    root, _ = stage_runs
    reader = LipReader(str(root / "int"))
    assert reader.kind == "crossmodal" and reader.lm is not None
    metrics, rows = evaluate(reader, str(sample_records), batch_size=2, beam_width=2, lm_weight=0.5, ctc_weight=0.3)
    assert metrics["clips"] == 4 and metrics["lm_weight"] == 0.5 and metrics["beam_width"] == 2
    mouth = np.zeros((12, 96, 96, 1), np.uint8)
    r = reader.read_clip(mouth, beam_width=2)
    assert {"text", "score", "lm_score", "char_logprobs"} <= set(r)
    assert len(r["char_logprobs"]) >= len(r["text"])  # one per emitted character (extra spaces are collapsed)
    x = np.zeros((1, 12, 88, 88, 1), np.float32)
    best = reader.recognizer.recognize(x, np.array([12]), reader.decoding_config(beam_width=3), nbest=3)[0]
    scores = [h["score"] for h in best["nbest"]]
    assert 1 <= len(scores) <= 3 and scores == sorted(scores, reverse=True) and best["nbest"][0]["text"] == best["text"]


def test_transcribe_cli_reports_scores(stage_runs, grid_sample):
    root, _ = stage_runs
    clip = sorted((grid_sample / "s1").glob("*.mp4"))[0]
    r = subprocess.run([sys.executable, "-m", "lipkeras", "transcribe", str(clip), "--model", str(root / "int"),
                        "--json", "--beam", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"video", "text", "frames", "seconds", "model", "lm_score", "score", "char_logprobs"} <= set(out)
    assert out["frames"] == 75 and isinstance(out["char_logprobs"], list)


def test_killed_integrate_stage_resumes(stage_runs, sample_records, tmp_path, crash_in_epoch_2):
    from lipkeras.train import integrate
    from lipkeras.train.config import IntegrateConfig

    root, _ = stage_runs
    cfg = IntegrateConfig(data=str(sample_records), out=str(tmp_path / "int"), visual=str(root / "visual"),
                          decoder=str(root / "lm"), epochs=2, steps_per_epoch=1, batch_size=2, split_ratio="0.5,0.5",
                          split_by="clip", examples=0)
    with pytest.raises(RuntimeError, match="killed"):
        integrate.train(cfg)
    crash_in_epoch_2()  # undo: the same run now resumes
    assert integrate.train(cfg)["epochs_run"] == 1  # only epoch 2: epoch 1 came from the backup


def test_stage_errors_are_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "visual", "--data", str(tmp_path),
                        "--decoder", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no model found" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "integrate", "--ctc-weight", "2",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "ctc_weight" in r.stderr and "Traceback" not in r.stderr
