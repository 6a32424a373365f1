"""The cross-modal reader's models at tiny size: shapes, masking, presets, save/load, weight transfer."""

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()
import keras  # noqa: E402

from lipkeras.models import (CROSSMODAL_PRESETS, CrossModalReader, MultiMotionEncoder,  # noqa: E402
                             build_crossmodal, build_language_model, build_visual_reader)
from lipkeras.models.transfer import copy_matching_weights  # noqa: E402

B, T, V = 2, 8, 10
LENGTHS = np.array([8, 5], "int32")


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.random((B, T, 32, 32, 1)).astype("float32")
    tokens = np.array([[V - 1, 1, 2, 3], [V - 1, 4, 0, 0]], "int32")
    return {"frames": frames, "frame_lengths": LENGTHS, "tokens": tokens}


def test_encoder_padding_does_not_change_real_frames():
    enc = MultiMotionEncoder(**CROSSMODAL_PRESETS["tiny"]["encoder"])
    x = _inputs()
    mc = np.asarray(enc({"frames": x["frames"], "frame_lengths": LENGTHS}))
    assert mc.shape == (B, T, 16)
    other = x["frames"].copy()
    other[1, 5:] = 1.0 - other[1, 5:]
    mc2 = np.asarray(enc({"frames": other, "frame_lengths": LENGTHS}))
    np.testing.assert_allclose(mc2[1, :5], mc[1, :5], atol=1e-4)
    assert len(enc.scale_weights()) == 3  # the stem + 2 ResNet stages



def test_encoder_shows_each_scale_map_and_lpa_attention():
    """What notebook 03 draws: every scale's feature map, and LPA attention rows that are
    distributions over the real frames only (padding is never read)."""
    enc = MultiMotionEncoder(**CROSSMODAL_PRESETS["tiny"]["encoder"])
    x = _inputs()["frames"]
    maps = enc.scale_maps(x, LENGTHS)
    assert [tuple(m.shape)[:2] for m in maps] == [(B, T)] * 3 and maps[0].shape[-1] == 4
    for att in enc.lpa_attention(x, LENGTHS):
        att = np.asarray(att)
        assert att.shape == (B, 2, T, T)  # the tiny preset's 2 heads
        np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
        assert np.all(att[1, :, :, 5:] < 1e-6)  # clip 2 has 5 real frames

def test_stage_models_and_ctc_padding():
    lm = build_language_model("tiny", V)
    assert lm(_inputs()["tokens"]).shape == (B, 4, V)
    vis = build_visual_reader("tiny", V)
    logits = np.asarray(vis({"frames": _inputs()["frames"], "frame_lengths": LENGTHS}))
    assert logits.shape == (B, T, V)
    assert np.all(logits[1, 5:].argmax(-1) == 0)  # padded frames emit the CTC blank
    out = build_crossmodal("tiny", V)(_inputs())
    assert out["ctc"].shape == (B, T, V) and out["attention"].shape == (B, 4, V)


def test_crossmodal_save_load_reproduces_outputs(tmp_path):
    model = build_crossmodal("tiny", V)
    x = _inputs()
    ref = model(x)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(again, CrossModalReader)
    for k in ("ctc", "attention"):
        np.testing.assert_allclose(np.asarray(again(x)[k]), np.asarray(ref[k]), atol=1e-5)
    assert again.get_config()["decoder"] == model.get_config()["decoder"]


def test_lm_weights_move_into_the_integrated_decoder():
    lm, model = build_language_model("tiny", V), build_crossmodal("tiny", V)
    copied, fresh = copy_matching_weights(lm.get_layer("decoder"), model.get_layer("decoder"))
    assert copied == len(lm.get_layer("decoder").weights)
    assert fresh and all("cross_attention" in p for p in fresh)
    tok = _inputs()["tokens"]
    np.testing.assert_allclose(np.asarray(model.get_layer("decoder").embedding(tok)),
                               np.asarray(lm.get_layer("decoder").embedding(tok)))


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset"):
        build_crossmodal("huge", V)


@pytest.mark.large
def test_resnet50_preset_forward_and_one_training_step():
    from lipkeras.models.losses import CTCLoss, MaskedCrossEntropy

    model = build_crossmodal("resnet50", 40)
    frames = np.random.default_rng(0).random((1, 16, 88, 88, 1)).astype("float32")
    x = {"frames": frames, "frame_lengths": np.array([16], "int32"), "tokens": np.array([[39, 3, 4, 5]], "int32")}
    out = model(x)
    assert out["ctc"].shape == (1, 16, 40) and out["attention"].shape == (1, 4, 40)
    assert [s[-1] for s in model.get_layer("encoder").get_layer("resnet").compute_output_shape(
        (1, 16, 22, 22, 64))] == [256, 512, 1024, 2048]
    model.compile("adam", loss={"ctc": CTCLoss(), "attention": MaskedCrossEntropy()})
    loss = model.train_on_batch(x, {"ctc": np.array([[3, 4, 5]]), "attention": np.array([[3, 4, 5, 39]])})
    assert np.isfinite(loss if np.isscalar(loss) else loss[0])


def test_sampled_sentences_follow_the_language_model():
    """An LM that always says "ab" then <eos>: sampling at any temperature gives "ab"; the greedy
    sentence (temperature 0) too."""
    from lipkeras.records.vocab import DEFAULT
    from lipkeras.train.language_model import sample_sentence

    a, b = DEFAULT.encode("ab")

    class Scripted:  # called as the trainer calls the LM: model(tokens, training=False)
        def __call__(self, tokens, training=False):
            nxt = [a, b, DEFAULT.eos][min(tokens.shape[1] - 1, 2)]
            logits = np.full((1, tokens.shape[1], DEFAULT.size), -30.0)
            logits[0, -1, nxt] = 30.0
            return logits

    assert {sample_sentence(Scripted(), t, seed=s) for t in (0.0, 0.7, 1.5) for s in (0, 1)} == {"ab"}
