"""Preprocessing the next videos in worker processes while the caller reads the last (transcribe)."""

import numpy as np

from lipkeras.preprocess.ahead import Ahead
from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.preprocess.errors import SkipInput


def test_worker_processes_give_the_same_clips_in_order_and_pass_bad_videos_on(grid_sample, tmp_path):
    clips = [str(p) for p in sorted((grid_sample / "s1").glob("*.mp4"))[:2]]
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    paths = [clips[0], str(bad), clips[1]]
    cfg = PreprocessConfig(rois=("mouth",), workers=1)
    with Ahead(0) as inline:
        want = list(inline.videos(paths, cfg))
    with Ahead(2) as ahead:
        got = list(ahead.videos(paths, cfg))
    assert [p for p, _, _ in got] == paths
    assert isinstance(got[1][1], SkipInput) and isinstance(want[1][1], SkipInput)
    assert str(got[1][1]) == str(want[1][1]) and str(got[1][1])  # the one-line reason, not raised
    for (_, a, sa), (_, b, sb) in zip(got[::2], want[::2]):
        np.testing.assert_array_equal(a["mouth"], b["mouth"])  # the same code, the same crops
        assert sa > 0 and sb > 0


def test_a_caller_that_stops_early_leaves_nothing_running(grid_sample):
    clips = [str(p) for p in sorted((grid_sample / "s1").glob("*.mp4"))[:2]] * 2
    with Ahead(2) as ahead:
        first = next(ahead.videos(clips, PreprocessConfig(rois=("mouth",), workers=1)))
        assert first[0] == clips[0] and first[1]["num_frames"] > 0
        pool = ahead._pool
    assert ahead._pool is None
    assert pool._state != "RUN"  # terminated, not left preprocessing the rest
