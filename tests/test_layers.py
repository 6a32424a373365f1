"""Tiny-shape tests of the layers: shapes, masking, get_config round trips (B=2, T=8, 32×32, vocab 10)."""

import numpy as np

from lipkeras import _quiet

_quiet.import_tensorflow()

from lipkeras.layers import CTCHead, FrameFold, FrameUnfold, MouthPreprocessing, SequenceMask  # noqa: E402

B, T, H, W, V = 2, 8, 32, 32, 10


def _frames(seed=0):
    return np.random.default_rng(seed).random((B, T, H, W, 1)).astype("float32")


def test_sequence_mask():
    m = SequenceMask()([_frames(), np.array([8, 5])])
    assert m.shape == (B, T)
    np.testing.assert_array_equal(np.asarray(m), np.arange(T)[None] < np.array([[8], [5]]))


def test_mouth_preprocessing_resizes_and_normalises_real_frames_only():
    x = _frames()
    mask = np.arange(T)[None] < np.array([[8], [5]])
    y = np.asarray(MouthPreprocessing((16, 16), "clip")(x, mask=mask))
    assert y.shape == (B, T, 16, 16, 1)
    for b, n in enumerate((8, 5)):
        assert abs(y[b, :n].mean()) < 1e-4 and abs(y[b, :n].std() - 1) < 1e-2
        assert np.all(y[b, n:] == 0)
    fixed = np.asarray(MouthPreprocessing((32, 32), "fixed", mean=0.5, std=0.25)(x))
    np.testing.assert_allclose(fixed, (x - 0.5) / 0.25, rtol=1e-5, atol=1e-5)
    layer = MouthPreprocessing((16, 24), None)
    assert MouthPreprocessing.from_config(layer.get_config()).size == (16, 24)


def test_ctc_head_forces_blank_on_padding():
    x = np.random.default_rng(0).normal(size=(B, T, 6)).astype("float32")
    mask = np.arange(T)[None] < np.array([[8], [3]])
    head = CTCHead(V)
    y = np.asarray(head(x, mask=mask))
    assert y.shape == (B, T, V)
    assert np.all(y[1, 3:].argmax(-1) == 0) and np.all(y[1, 3:, 1:] <= -1e3)
    cfg = head.get_config()
    assert cfg["vocab_size"] == V and CTCHead.from_config(cfg).vocab_size == V


def test_fold_unfold():
    x = _frames()
    f = FrameFold()(x)
    assert f.shape == (B * T, H, W, 1)
    u = FrameUnfold()([f, x])
    assert u.shape == (B, T, H * W)
    np.testing.assert_array_equal(np.asarray(u).reshape(x.shape), x)
