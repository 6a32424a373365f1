"""Models at tiny shapes: outputs, masking, config and .keras round trips, CTC loss and decoding."""

import numpy as np
import pytest

from lipkeras import _quiet

_quiet.import_tensorflow()
import keras  # noqa: E402

from lipkeras.decode import beam_ids, decode, greedy_ids  # noqa: E402
from lipkeras.models import FastLipReader, LipNet, build_model  # noqa: E402
from lipkeras.models.losses import CTCLoss  # noqa: E402
from lipkeras.records.vocab import Vocabulary  # noqa: E402

B, T, V = 2, 8, 10


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {"frames": rng.random((B, T, 32, 32, 1)).astype("float32"), "frame_lengths": np.array([8, 5], "int32")}


@pytest.mark.parametrize("preset", ["fast_tiny", "lipnet_tiny"])
def test_output_shape_masking_and_keras_roundtrip(preset, tmp_path):
    model = build_model(preset, V)
    x = _inputs()
    y = np.asarray(model(x, training=False))
    assert y.shape == (B, T, V)
    assert np.all(y[1, 5:].argmax(-1) == 0)  # padded frames emit the blank
    # Padding content must not change the real frames' outputs.
    x2 = {k: v.copy() for k, v in x.items()}
    x2["frames"][1, 5:] = 0.123
    np.testing.assert_allclose(np.asarray(model(x2, training=False))[1, :5], y[1, :5], rtol=1e-4, atol=1e-4)
    clone = type(model).from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("preset", ["fast_tiny", "lipnet_tiny"])
def test_mixed_bfloat16_computes_in_bfloat16_with_float32_logits(preset):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(preset, V)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.layers[2].compute_dtype == "bfloat16" and model.get_layer("ctc_head").compute_dtype == "float32"
    y = model(_inputs(), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "float32" and np.all(np.asarray(y)[1, 5:].argmax(-1) == 0)


def test_presets_build_with_the_documented_sizes():
    paper = build_model("lipnet_paper", 40)
    seed = build_model("lipnet_seed", 40)
    fast = build_model("fast", 40)
    wide = build_model("fast_wide", 40)
    assert wide.get_config()["trunk_filters"] == (96, 192) and wide.get_config()["rnn_units"] == 192
    assert isinstance(paper, LipNet) and isinstance(fast, FastLipReader)
    assert paper.get_config()["conv_filters"] == (32, 64, 96) and paper.get_config()["rnn_type"] == "gru"
    assert seed.get_config()["conv_filters"] == (128, 256, 75) and seed.get_config()["input_size"] == (46, 140)
    assert fast.count_params() < wide.count_params() < paper.count_params() < seed.count_params()
    with pytest.raises(ValueError, match="unknown model preset"):
        build_model("nope", 40)
    hires = build_model("fast_hires", 40)  # 88×88 input + a final pool: the very weights of `fast`
    assert hires.get_config()["input_size"] == (88, 88) and hires.get_config()["final_pool"] == 2
    assert [w.shape for w in hires.get_weights()] == [w.shape for w in fast.get_weights()]


def test_final_pool_takes_a_finer_input_with_the_same_weights(tmp_path):
    """A 32×32-input model with ``final_pool=2`` runs the 16×16 one's weights on frames twice as fine."""
    small = build_model("fast_tiny", V)
    fine = build_model("fast_tiny", V, input_size=(32, 32), final_pool=2)
    fine.set_weights(small.get_weights())
    y = np.asarray(fine(_inputs(), training=False))
    assert y.shape == (B, T, V) and np.all(y[1, 5:].argmax(-1) == 0)
    fine.save(tmp_path / "fine.keras")
    again = keras.saving.load_model(tmp_path / "fine.keras", compile=False)
    assert again.get_config()["final_pool"] == 2
    np.testing.assert_allclose(np.asarray(again(_inputs(), training=False)), y, rtol=1e-5, atol=1e-5)


def test_ctc_loss_masks_padding_and_trains():
    model = build_model("fast_tiny", V)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=CTCLoss())
    x = _inputs()
    y = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")  # label lengths 3 and 2 (0 = pad)
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    # Equals TF's CTC computed with explicit lengths on the real frames only.
    import tensorflow as tf

    logits = np.asarray(model(x, training=False))
    ours = np.asarray(CTCLoss(reduction=None)(y, logits))
    ref = tf.nn.ctc_loss(labels=tf.constant(y), logits=tf.constant(logits), label_length=[3, 2],
                         logit_length=[8, 5], logits_time_major=False, blank_index=0).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def _onehot_logits(path, V=6):
    x = np.full((len(path), V), -10.0, np.float32)
    x[np.arange(len(path)), path] = 0.0
    return x


def test_greedy_and_beam_decoding_on_hand_made_logits():
    vocab = Vocabulary("ab ")  # ids: a=1, b=2, space=3
    # frames: a a _ a b b _ ' ' b  → "aab b" after merging repeats and dropping blanks
    path = [1, 1, 0, 1, 2, 2, 0, 3, 2]
    logits = _onehot_logits(path)[None]
    assert [list(s) for s in greedy_ids(logits)] == [[1, 1, 2, 3, 2]]
    assert decode(logits, vocab=vocab) == ["aab b"]
    ids, scores = beam_ids(logits, beam_width=4)
    assert list(ids[0]) == [1, 1, 2, 3, 2] and scores.shape == (1,)
    assert decode(logits, beam_width=4, vocab=vocab) == ["aab b"]
    # Lengths cut the decoding.
    assert decode(logits, lengths=[4], vocab=vocab) == ["aa"]


def test_beam_beats_greedy_when_paths_split():
    # Two frames: greedy picks blank,blank (p=.36) but "a" has total p = .64 over its paths.
    p = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]) + 1e-9
    logits = np.log(p)[None].astype(np.float32)
    assert [list(s) for s in greedy_ids(logits)] == [[]]
    ids, _ = beam_ids(logits, beam_width=5)
    assert list(ids[0]) == [1]
