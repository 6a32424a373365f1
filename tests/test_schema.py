import numpy as np
import tensorflow as tf

from conftest import tiny_clip
from lipkeras.records import schema


def test_encode_parse_roundtrip():
    clip = tiny_clip("s1/a", T=8, size=32, transcript="bin blue", label="happy")
    clip["landmarks"] = np.random.default_rng(0).normal(size=(8, 3, 2)).astype(np.float32)
    clip["landmark_indices"] = (1, 2, 3)
    clip["detected"] = np.array([1, 1, 0, 1, 1, 1, 1, 1])
    clip["audio"], clip["audio_rate"] = np.arange(-5, 5, dtype=np.int16), 16000
    data = schema.encode(clip)
    ex = schema.parse(tf.constant(data), rois=("mouth", "face"), audio=True, landmarks=True)
    assert ex["mouth"].dtype == tf.uint8 and tuple(ex["mouth"].shape) == (8, 32, 32, 1)
    np.testing.assert_array_equal(ex["mouth"].numpy(), clip["mouth"])
    np.testing.assert_array_equal(ex["face"].numpy(), clip["face"])
    np.testing.assert_array_equal(ex["audio"].numpy(), clip["audio"])
    np.testing.assert_allclose(ex["landmarks"].numpy(), clip["landmarks"])
    assert ex["transcript"].numpy() == b"bin blue" and ex["label"].numpy() == b"happy"
    assert int(ex["num_frames"]) == 8
    back = schema.decode_numpy(data)
    assert back["attributes"] == {"k": 1} and back["mouth_affine"].shape == (8, 2, 3)
    np.testing.assert_array_equal(back["detected"], clip["detected"])


def test_missing_roi_parses_as_empty():
    clip = tiny_clip("s1/b", T=4, face=False)
    ex = schema.parse(tf.constant(schema.encode(clip)), rois=("face",))
    assert ex["face"].shape[0] == 0


def test_wrong_frame_count_is_rejected():
    import pytest

    clip = tiny_clip("s1/c", T=4)
    clip["num_frames"] = 5
    with pytest.raises(ValueError, match="frames must be"):
        schema.encode(clip)
