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


def _face(shift=0.0):
    """A [478, 2] 'face' whose eyes are 100 px apart, moved by ``shift`` pixels."""
    pts = np.zeros((lmk.NUM_LANDMARKS, 2), np.float32)
    pts[list(lmk.RIGHT_EYE)] = (100.0, 100.0)
    pts[list(lmk.LEFT_EYE)] = (200.0, 100.0)
    return pts + shift


def test_motion_is_per_frame_in_inter_eye_distances():
    assert lmk.eye_distance(_face()) == pytest.approx(100.0)
    assert lmk.motion(_face(), _face(6.0 / np.sqrt(2)), frames=2) == pytest.approx(0.03)


def test_schedule_skips_every_other_frame_of_a_still_face_and_detects_every_frame_of_a_moving_one():
    still = lmk.LandmarkSchedule(every=2, max_motion=0.02)
    runs = []
    for i in range(10):
        if still.wanted(i):
            runs.append(i)
            still.saw(i, _face(0.1 * i))
    assert runs == [0, 1, 3, 5, 7, 9]  # two detections decide the motion, then every second frame
    moving = lmk.LandmarkSchedule(every=2, max_motion=0.02)
    runs = []
    for i in range(6):
        if moving.wanted(i):
            runs.append(i)
            moving.saw(i, _face(5.0 * i))  # 0.05 inter-eye distances a frame
    assert runs == list(range(6))
    lost = lmk.LandmarkSchedule(every=3)
    lost.saw(0, _face())
    lost.saw(1, None)  # no face: look again at once
    assert lost.wanted(2)
    assert all(lmk.LandmarkSchedule(every=1).wanted(i) for i in range(3))


def test_landmarks_every_second_frame_give_nearly_the_same_crops(grid_sample):
    from lipkeras.preprocess.config import PreprocessConfig
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item

    src = str(sorted((grid_sample / "s1").glob("*.mp4"))[0])
    every = process_video(Item(src, "a"), PreprocessConfig(rois=("mouth",), workers=1, landmark_every=1))
    half = process_video(Item(src, "a"), PreprocessConfig(rois=("mouth",), workers=1, landmark_every=2))
    T = every["num_frames"]
    assert half["num_frames"] == T and every["landmarked_frames"] == T
    assert T // 2 <= half["landmarked_frames"] < 0.7 * T  # GRID speakers sit still: about every other frame
    assert half["detected"].all()
    diff = np.abs(half["mouth"].astype(np.float32) - every["mouth"].astype(np.float32)).mean()
    assert diff < 2.0, diff  # grey levels 0-255: interpolated landmarks move the crop by a fraction of a pixel


def test_landmark_options_are_validated_and_flags_reach_the_config():
    import argparse

    from lipkeras.preprocess.cli import add_arguments, config_from_args
    from lipkeras.preprocess.config import PreprocessConfig

    with pytest.raises(ValueError, match="landmark_every"):
        PreprocessConfig(landmark_every=0)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cfg = config_from_args(parser.parse_args(["in", "out", "--landmark-every", "3", "--landmark-max-motion", "0.05"]))
    assert (cfg.landmark_every, cfg.landmark_max_motion) == (3, 0.05)
    assert "landmark_every" in cfg.content_dict()  # resuming with another schedule re-does the clips


def test_mediapipe_loads_without_tensorflow_in_a_fresh_process():
    """Preprocessing workers load MediaPipe alone (its Tasks would import all of TensorFlow for API
    docs: 4.5 s and a GiB per worker); a later `import tensorflow` there still works."""
    import subprocess
    import sys

    code = ("import sys; from lipkeras.preprocess import landmarks as l; l.mediapipe_tasks(); "
            "print('tensorflow' in sys.modules); "
            "from tensorflow.tools.docs import doc_controls; print(doc_controls.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "tensorflow.tools.docs.doc_controls"]
