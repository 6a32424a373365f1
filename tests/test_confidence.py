"""Confidence and domain: forced alignment, calibration maths, and the shipped readers' trust fields."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lipkeras.decode.confidence import (Calibration, Domain, assess, auroc, clip_embedding, ctc_alignment,
                                        ctc_char_logprobs, expected_calibration_error, fit_platt, normalized,
                                        word_correctness, word_scores)
from lipkeras.emotion import label_confidence


def _logp(path, vocab=4, sharp=0.9):
    """Frame log-probabilities whose best path is ``path`` (one id per frame)."""
    p = np.full((len(path), vocab), (1 - sharp) / (vocab - 1))
    p[np.arange(len(path)), path] = sharp
    return np.log(p)


def test_forced_alignment_follows_the_frames():
    logp = _logp([0, 1, 1, 0, 2, 0, 2])  # blank a a blank b blank b
    assert ctc_alignment(logp, [1, 2, 2]).tolist() == [-1, 0, 0, -1, 1, -1, 2]
    assert ctc_alignment(logp[:2], [1, 2, 2]) is None  # 2 frames cannot emit b, blank, b
    chars = ctc_char_logprobs(logp, [1, 2, 2])
    np.testing.assert_allclose(chars, np.log(0.9), atol=1e-9)
    assert ctc_char_logprobs(logp[:2], [1, 2, 2]) == [-np.inf] * 3


def test_words_and_their_correctness():
    assert normalized(" ab  c ", [1, 2, 3, 4, 5, 6, 7]) == ("ab c", [2.0, 3.0, 4.0, 6.0])
    assert word_scores("ab c", [-1.0, -3.0, 0.0, -0.5]) == [("ab", -2.0), ("c", -0.5)]
    assert word_correctness("bin blue at f two now", "bin blue f two now please") == [True, True, True, True,
                                                                                       True, False]
    assert word_correctness("set red", "set green") == [True, False]


def test_platt_scaling_recovers_a_logistic_relation():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-4, 0, 4000)
    correct = rng.random(4000) < 1 / (1 + np.exp(-(2.0 * scores + 3.0)))
    a, b = fit_platt(scores, correct)
    assert abs(a - 2.0) < 0.3 and abs(b - 3.0) < 0.4
    conf = 1 / (1 + np.exp(-(a * scores + b)))
    assert expected_calibration_error(conf, correct) < 0.03
    assert expected_calibration_error(np.ones(4000), correct) > 0.2  # always-sure is badly calibrated
    assert 0.6 < auroc(conf, correct) < 1.0 and auroc(np.array([0.9, 0.1]), np.array([True, False])) == 1.0


def test_assess_warns_below_the_threshold_and_out_of_domain():
    cal = Calibration(a=5.0, b=4.0, threshold=0.5)
    good = assess("bin blue", [-0.01] * 8, cal)
    assert good["confidence"] > 0.9 and "warning" not in good and len(good["word_confidences"]) == 2
    bad = assess("bin blue", [-3.0] * 8, cal)
    assert bad["confidence"] < 0.5 and bad["warning"].startswith("unreliable transcript: low confidence")
    odd = assess("bin blue", [-0.01] * 8, cal, {"domain_distance": 3.0, "in_domain": False,
                                                  "domain_reasons": ["looks unlike the training clips"]})
    assert "looks unlike" in odd["warning"] and odd["in_domain"] is False
    assert assess("", [], cal)["confidence"] == 0.0


def test_character_confidences_are_the_word_calibration_of_each_character():
    cal = Calibration(a=5.0, b=3.0)
    chars = cal.char_confidences([-0.1, -3.0, -np.inf])
    assert chars[0] > 0.9 > chars[1] and chars[2] == 0.0
    # a one-character word's confidence is its character's
    assert cal.confidences("a", [-0.1])[1][0]["confidence"] == chars[0]


def test_frame_ids_and_sampled_frames():
    from lipkeras.decode.ctc import frame_ids
    from lipkeras.emotion import sample_faces, sample_indices

    logits = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]))
    assert frame_ids(logits) == [0, 1, 1, 0] and frame_ids(logits, 2) == [0, 1]
    faces = np.arange(75)[:, None]
    assert sample_indices(75, 32).tolist() == sample_faces(faces, 32)[:, 0].tolist() and len(sample_indices(75, 32)) == 32
    assert sample_indices(10, 32).tolist() == list(range(10))


def test_domain_fits_training_clips_and_flags_others(tmp_path):
    rng = np.random.default_rng(1)
    train = rng.normal(0, 1, (200, 8))
    val = rng.normal(0, 1, (40, 8))
    domain = Domain.fit(train, val, np.full(200, 75))
    assert domain.check(rng.normal(0, 1, 8), 75)["in_domain"]
    known = np.concatenate([train, val])  # the clips it learnt from: at most the 1 % tail out of domain
    assert np.mean([domain.check(x, 75)["in_domain"] for x in known]) >= 0.99
    assert domain.threshold == pytest.approx(1.25 * domain.reference["q99"], rel=1e-3)
    far = domain.check(rng.normal(4, 1, 8), 75)
    assert not far["in_domain"] and "unlike the training clips" in far["domain_reasons"][0]
    assert "frames" in domain.check(rng.normal(0, 1, 8), 400)["domain_reasons"][0]
    domain.save(tmp_path / "domain.npz")
    back = Domain.load(tmp_path / "domain.npz")
    assert back.threshold == pytest.approx(domain.threshold) and back.max_frames == 75 and back.quantile == 0.99
    assert Domain.load(tmp_path / "missing.npz") is None
    emb = clip_embedding(np.arange(12.0).reshape(6, 2), 4)
    np.testing.assert_allclose(emb, [3.0, 4.0, np.std([0, 2, 4, 6]), np.std([1, 3, 5, 7])])


def test_emotion_confidence_uses_the_temperature():
    probs = np.array([0.55, 0.3, 0.15])
    assert label_confidence(probs, {}) == {"confidence": 0.55}
    hot = label_confidence(probs, {"temperature": 2.0, "threshold": 0.5})
    assert hot["confidence"] < 0.55 and hot["warning"].startswith("uncertain label")


def test_shipped_readers_trust_grid_and_distrust_the_wild(grid_sample, shared_data):
    """The shipped, calibrated readers: a held-out GRID sample clip is confident and in domain; the
    LRS3 clip (another speaker, free speech) is flagged."""
    from lipkeras.lipreader import LipReader

    wild = sorted((shared_data / "wild" / "lrs3").glob("*.mp4"))[0]
    for name in ("grid_lipreader", "grid_crossmodal"):
        reader = LipReader(name)
        assert reader.domain is not None and reader.calibration.a != 1.0, f"{name} is not calibrated"
        grid = reader.transcribe(sorted((grid_sample / "s1").glob("*.mp4"))[0])
        assert grid["in_domain"] and "warning" not in grid and grid["confidence"] >= reader.calibration.threshold
        assert [w["word"] for w in grid["word_confidences"]] == grid["text"].split()
        other = reader.transcribe(wild)
        assert not other["in_domain"] and "warning" in other


def test_cli_shows_confidence_emotion_and_warning(grid_sample, shared_data):
    clip = sorted((grid_sample / "s1").glob("*.mp4"))[0]
    wild = sorted((shared_data / "wild" / "webcam").glob("*.mp4"))[0]
    run = subprocess.run([sys.executable, "-m", "lipkeras", "transcribe", str(clip), str(wild)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    first = next(line for line in lines if line.startswith(str(clip)))
    assert "confidence" in first and "emotion" in first
    assert any(line.strip().startswith("warning: unreliable transcript") for line in lines), run.stdout
