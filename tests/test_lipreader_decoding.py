"""A CTC lip reader shipped with a character LM: default decoding, overrides, one-line misuse errors."""

import json

import keras
import numpy as np
import pytest

from lipkeras.lipreader import LipReader, ship
from lipkeras.models import CharLanguageModel, build_model
from lipkeras.records.vocab import DEFAULT


@pytest.fixture(scope="module")
def shipped_with_lm(tmp_path_factory):
    root = tmp_path_factory.mktemp("ship")
    model = build_model("fast_tiny", DEFAULT.size)
    model({"frames": np.zeros((2, 8, 32, 32, 1), np.float32), "frame_lengths": np.array([8, 6], np.int32)})
    model.save(root / "run.keras")
    lm = CharLanguageModel(vocab_size=DEFAULT.size, d_model=16, num_layers=1, num_heads=2, ff_dim=32)
    lm(np.zeros((2, 4), np.int32))
    lm.save(root / "lm.keras")
    ship(root / "run.keras", root / "tiny_reader", preset="fast_tiny", crop_size=32, lm_file=root / "lm.keras",
         decoding={"beam_width": 3, "lm_weight": 0.5, "length_bonus": 0.1})
    return root / "tiny_reader"


def test_lm_fusion_is_the_shipped_default(shipped_with_lm):
    meta = json.loads((shipped_with_lm / "lipkeras.json").read_text())
    assert meta["lm"] == "lm.keras" and meta["decoding"]["lm_weight"] == 0.5
    reader = LipReader(str(shipped_with_lm))
    assert reader.kind == "ctc" and reader.lm is not None
    frames = np.random.default_rng(0).random((2, 8, 32, 32, 1)).astype(np.float32)
    lengths = np.array([8, 6], np.int32)
    fused = reader.recognize_batch(frames, lengths)
    assert len(fused) == 2 and all(r["lm_score"] <= 0 and np.isfinite(r["score"]) for r in fused)
    for r in fused:  # score = CTC + λ·LM + bonus·characters (the text's, plus any spaces trimmed from it)
        chars = (r["score"] - r["ctc_score"] - 0.5 * r["lm_score"]) / 0.1
        assert abs(chars - round(chars)) < 0.05 and round(chars) >= len(DEFAULT.encode(r["text"]))
    assert reader.decoding_config().beam_width == 3
    # without an LM there is no fused score to report, only the text and its calibrated confidence
    for unfused in (reader.recognize_batch(frames, lengths, beam_width=1),
                    reader.recognize_batch(frames, lengths, beam_width=3, lm_weight=0.0)):
        assert not {"score", "ctc_score", "lm_score"} & set(unfused[0])
        assert {"text", "confidence", "word_confidences"} <= set(unfused[0])
        assert 0.0 <= unfused[0]["confidence"] <= 1.0


def test_nbest_and_details(shipped_with_lm):
    reader = LipReader(str(shipped_with_lm))
    frames = np.random.default_rng(1).random((1, 8, 32, 32, 1)).astype(np.float32)
    lengths = np.array([8], np.int32)
    plain = reader.recognize_batch(frames, lengths)[0]
    r = reader.recognize_batch(frames, lengths, nbest=3, details=True)[0]
    assert r["text"] == plain["text"] and "nbest" not in plain and "char_confidences" not in plain
    assert r["nbest"][0]["text"] == r["text"] and 1 <= len(r["nbest"]) <= 3
    assert [h["score"] for h in r["nbest"]] == sorted((h["score"] for h in r["nbest"]), reverse=True)
    assert len(r["char_confidences"]) == len(r["text"]) and all(0 <= c <= 1 for c in r["char_confidences"])
    assert len(r["ctc_frame_ids"]) == 8 and all(0 <= i < reader.vocab.size for i in r["ctc_frame_ids"])
    greedy = reader.recognize_batch(frames, lengths, beam_width=1, nbest=3)[0]
    assert greedy["nbest"] == [{"text": greedy["text"], "score": None}]


def test_ctc_weight_is_refused_for_ctc_models(shipped_with_lm):
    with pytest.raises(ValueError, match="cross-modal"):
        LipReader(str(shipped_with_lm)).decoding_config(ctc_weight=0.3)


def test_a_model_without_lm_refuses_an_lm_weight(shipped_with_lm, tmp_path):
    keras.saving.load_model(shipped_with_lm / "model.keras", compile=False).save(tmp_path / "bare.keras")
    reader = LipReader(str(tmp_path / "bare.keras"))
    assert reader.lm is None and reader.decoding_config().beam_width == 1
    with pytest.raises(ValueError, match="no language model"):
        reader.decoding_config(lm_weight=0.5)
