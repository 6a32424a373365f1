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


def test_blendshapes_roundtrip_and_records_without_them():
    import pytest

    clip = tiny_clip("s1/d", T=5)
    clip["blendshapes"] = np.random.default_rng(1).uniform(size=(5, schema.NUM_BLENDSHAPES)).astype(np.float32)
    data = schema.encode(clip)
    ex = schema.parse(tf.constant(data), blendshapes=True)
    assert bool(ex["has_blendshapes"]) and tuple(ex["blendshapes"].shape) == (5, 52)
    np.testing.assert_allclose(ex["blendshapes"].numpy(), clip["blendshapes"])
    np.testing.assert_allclose(schema.decode_numpy(data)["blendshapes"], clip["blendshapes"])
    assert len(schema.BLENDSHAPE_NAMES) == 52 == len(set(schema.BLENDSHAPE_NAMES))
    # a record written without them still reads: zeros and a flag, and none in decode_numpy
    old = schema.encode(tiny_clip("s1/e", T=3))
    ex = schema.parse(tf.constant(old), blendshapes=True)
    assert not bool(ex["has_blendshapes"]) and tuple(ex["blendshapes"].shape) == (3, 52)
    assert "blendshapes" not in schema.decode_numpy(old)
    assert "blendshapes" not in schema.parse(tf.constant(data))  # not asked for: not parsed
    clip["blendshapes"] = clip["blendshapes"][:4]
    with pytest.raises(ValueError, match="blendshapes must be"):
        schema.encode(clip)


def test_blendshapes_of_a_real_clip(grid_sample):
    """A bundled GRID clip through ``preprocess``: one row of 52 scores in [0, 1] per frame, in the record."""
    from lipkeras.preprocess import landmarks as lmk
    from lipkeras.preprocess.config import PreprocessConfig
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item

    path = sorted(grid_sample.glob("s1/*.mp4"))[0]
    item = Item(path=str(path), kind="video", clip_id="s1/x", speaker="s1", transcript="x", label="",
                attributes={}, split="train")
    clip = process_video(item, PreprocessConfig(dataset="grid", rois=("mouth",), workers=1))
    back = schema.decode_numpy(schema.encode(clip))
    T = back["num_frames"]
    assert T > 10 and back["blendshapes"].shape == (T, 52)
    assert back["blendshapes"].min() >= 0.0 and back["blendshapes"].max() <= 1.0
    assert back["blendshapes"].max() > 0.1  # not all zeros: the face was found
    jaw = back["blendshapes"][:, schema.BLENDSHAPE_NAMES.index("jawOpen")]
    assert jaw.std() > 0.005  # a speaking mouth opens and closes
    # the landmarker's old API still returns landmarks only
    with lmk.FaceLandmarker(video=False) as plain, lmk.FaceLandmarker(video=False, blendshapes=True) as both:
        import cv2

        cap = cv2.VideoCapture(str(path))
        ok, bgr = cap.read()
        cap.release()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        pts = plain.detect(rgb)
        assert pts.shape == (lmk.NUM_LANDMARKS, 2)
        assert plain.detect_with_blendshapes(rgb)[1] is None
        pts2, scores = both.detect_with_blendshapes(rgb)
        np.testing.assert_allclose(pts, pts2, atol=1e-3)
        assert scores.shape == (52,)
