import numpy as np
import pytest

from conftest import write_video
from lipkeras.preprocess import video
from lipkeras.preprocess.errors import SkipInput


def _frames(T, size=32):
    x = np.zeros((T, size, size, 3), np.uint8)
    for t in range(T):
        x[t, :, :, 0] = t * 7 % 256
    return x


@pytest.mark.parametrize("src_fps,expected", [(25, 25), (30, 25), (50, 25), (15, 25)])
def test_resampled_to_25fps(tmp_path, src_fps, expected):
    path = write_video(tmp_path / f"v{src_fps}.mp4", _frames(src_fps), fps=src_fps)
    d = video.decode(path, fps=25.0)
    assert len(d.frames) == expected
    assert d.source_frames == src_fps and d.frames[0].shape == (32, 32, 3)


@pytest.mark.parametrize("ext,codec", [(".avi", "mpeg4"), (".mov", "mpeg4"), (".mpg", "mpeg2video")])
def test_common_containers(tmp_path, ext, codec):
    path = write_video(tmp_path / f"v{ext}", _frames(25), fps=25, codec=codec)
    assert len(video.decode(path).frames) == 25


def test_audio_track_is_16k_mono_int16(tmp_path):
    sr = 44100
    tone = (np.sin(np.arange(sr) * 2 * np.pi * 440 / sr) * 8000).astype(np.int16)
    path = write_video(tmp_path / "a.mp4", _frames(25), fps=25, audio=tone, audio_rate=sr)
    d = video.decode(path, audio=True)
    assert d.audio.dtype == np.int16 and d.audio.ndim == 1
    assert abs(d.audio.size - 16000) < 2000 and np.abs(d.audio).max() > 2000
    assert video.decode(path, audio=False).audio is None


def test_max_seconds(tmp_path):
    path = write_video(tmp_path / "long.mp4", _frames(50), fps=25)
    assert len(video.decode(path, max_seconds=1.0).frames) == 25


def test_bad_files_raise_skip(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SkipInput, match="empty file"):
        video.decode(empty)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(SkipInput, match="not a readable video|corrupt"):
        video.decode(junk)
    with pytest.raises(SkipInput, match="not found"):
        video.decode(tmp_path / "missing.mp4")


@pytest.mark.parametrize("rotation,corner", [(90, "bottom-left"), (-90, "top-right"), (0, "top-left")])
def test_display_rotation_is_applied(tmp_path, rotation, corner):
    """Phone videos store portrait frames sideways plus a display matrix; frames come out upright."""
    import av

    frames = np.zeros((5, 48, 64, 3), np.uint8)
    frames[:, :8, :8] = 255  # a marker in the stored frame's top-left corner
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        if rotation:
            vs.set_display_rotation(rotation)
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    img = video.decode(path).frames[0]
    assert img.shape[:2] == ((64, 48) if rotation else (48, 64))
    ys, xs = np.nonzero(img[..., 0] > 128)
    h, w = img.shape[:2]
    where = ("top" if ys.mean() < h / 2 else "bottom") + "-" + ("left" if xs.mean() < w / 2 else "right")
    assert where == corner


def test_duration_seconds_without_decoding(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(50), fps=25)
    assert video.duration_seconds(path) == pytest.approx(2.0, abs=0.1)
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(SkipInput, match="not a readable video"):
        video.duration_seconds(tmp_path / "notes.txt")
