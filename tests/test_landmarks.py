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


def _write_video(path, frames, fps=25):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        out.mux(stream.encode())


@pytest.mark.parametrize("turns", [2, 3])  # upside down; on its side (MediaPipe alone misreads both)
def test_a_turned_video_without_rotation_metadata_is_turned_upright(grid_sample, tmp_path, turns):
    from lipkeras.preprocess import video as vid
    from lipkeras.preprocess.config import PreprocessConfig
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item

    src = sorted((grid_sample / "s1").glob("*.mp4"))[0]
    frames = vid.decode(src).frames[:25]
    upright = tmp_path / "upright.mp4"
    _write_video(upright, frames)
    turned = tmp_path / "turned.mp4"
    _write_video(turned, [np.rot90(f, turns) for f in frames])  # the face turned by -90°·turns
    cfg = PreprocessConfig(rois=("mouth",), workers=1)
    ref = process_video(Item(str(upright), "upright"), cfg)
    got = process_video(Item(str(turned), "turned"), cfg)
    assert "turned_degrees" not in ref["attributes"] and got["attributes"]["turned_degrees"] == 90 * (4 - turns)
    # the same mouth crops as from the upright video (up to re-encoding and landmark jitter)
    diff = np.abs(got["mouth"].astype(np.float32) - ref["mouth"].astype(np.float32)).mean()
    assert diff < 8, diff
    off = process_video(Item(str(turned), "turned"), PreprocessConfig(rois=("mouth",), workers=1, auto_orient=False))
    assert "turned_degrees" not in off["attributes"]
    assert np.abs(off["mouth"].astype(np.float32) - ref["mouth"].astype(np.float32)).mean() > 2 * diff


def test_small_tight_face_crops_are_never_turned(shared_data):
    import cv2

    faces = sorted((shared_data / "fer2013" / "train").glob("*/*.png"))[::700]  # 41 FER faces, all classes
    turns = [lmk.upright_turns([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)]) for f in faces]
    assert turns == [0] * len(faces)
