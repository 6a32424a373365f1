import numpy as np
import pytest

from lipkeras.preprocess import landmarks as lmk
from lipkeras.preprocess.errors import SkipInput


def test_interpolation_is_linear_between_detected_neighbours_and_nearest_at_edges():
    T = 8
    pts = np.zeros((T, 3, 2), np.float32)
    detected = np.array([0, 1, 0, 0, 1, 1, 0, 0], bool)
    pts[1], pts[4], pts[5] = 10.0, 40.0, 50.0
    out = lmk.interpolate_missing(pts, detected)
    np.testing.assert_allclose(out[:, 0, 0], [10, 10, 20, 30, 40, 50, 50, 50])


def test_no_face_anywhere_is_a_skip():
    with pytest.raises(SkipInput, match="no face"):
        lmk.interpolate_missing(np.zeros((4, 3, 2), np.float32), np.zeros(4, bool))


def test_smoothing_is_a_centred_moving_average():
    x = np.arange(8, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    s = lmk.smooth(x, 3)
    np.testing.assert_allclose(s[1:-1, 0, 0], x[1:-1, 0, 0])  # linear signal is unchanged inside
    np.testing.assert_allclose(s[0, 0, 0], (0 + 0 + 1) / 3)   # edges repeat the end frame
    spike = np.zeros((8, 1, 2), np.float32)
    spike[4] = 9.0
    np.testing.assert_allclose(lmk.smooth(spike, 3)[3:6, 0, 0], [3, 3, 3])
    assert lmk.smooth(x, 1) is x


def test_landmark_index_sets():
    assert len(lmk.LIPS) == 40 and len(set(lmk.LIPS)) == 40
    assert set(lmk.STABLE).isdisjoint(lmk.LIPS)
    assert max(lmk.SUMMARY) < lmk.NUM_LANDMARKS


def test_bundled_model_checksum():
    lmk.verify_model()
