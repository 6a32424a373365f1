"""Shared fixtures: tiny synthetic records and videos, the bundled GRID sample, ../shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from lipkeras import _quiet  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIPKERAS_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "grid").exists():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (set LIPKERAS_SHARED)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def grid_sample() -> Path:
    from lipkeras.paths import GRID_SAMPLE

    return GRID_SAMPLE


@pytest.fixture(scope="session")
def sample_records(tmp_path_factory, grid_sample) -> Path:
    """Mouth records of 4 real GRID clips (the bundled sample), made once per test session."""
    from lipkeras.preprocess import PreprocessConfig, run

    root = make_grid_layout(tmp_path_factory.mktemp("g"), sorted((grid_sample / "s1").glob("*.mp4"))[:4])
    out = tmp_path_factory.mktemp("rec")
    run(root, out, PreprocessConfig(dataset="grid", workers=1, rois=("mouth",)), progress=False)
    return out


@pytest.fixture
def crash_in_epoch_2(monkeypatch):
    """Make the next training run die at the end of its second epoch (as if killed); returns an
    ``undo`` callable so the same run can then be resumed from its ``BackupAndRestore`` state."""
    from lipkeras.train import callbacks as cb

    real = cb.DecodeMetrics.on_epoch_end

    def crash(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("killed")
        return real(self, epoch, logs)

    monkeypatch.setattr(cb.DecodeMetrics, "on_epoch_end", crash)
    return lambda: monkeypatch.setattr(cb.DecodeMetrics, "on_epoch_end", real)


def table_step(table: dict, vocab_size: int, eos: int):
    """A hand-made 'model' for beam searches: the next-token distribution depends only on the
    prefix (``{tuple of tokens after <sos>: {token: prob}}``, unknown prefixes end), as log-probs."""
    def step(tokens):
        rows = []
        for t in tokens:
            p = np.full(vocab_size, 1e-6)
            for tok, prob in table.get(tuple(t[1:]), {eos: 1.0}).items():
                p[tok] = prob
            rows.append(np.log(p / p.sum()))
        return np.array(rows)
    return step


def latest_export(name: str) -> tuple[Path, dict]:
    """The newest exported version of a shipped model, ``saved_models/<name>/<N>``, and its
    ``assets.extra/lipkeras.json`` (what it computes in, its labels or vocabulary)."""
    import json

    path = newest_version(REPO / "saved_models" / name)
    return path, json.loads((path / "assets.extra" / "lipkeras.json").read_text())


def newest_version(folder: Path) -> Path:
    """``folder/<N>`` of the largest N: the newest version of an export (``saved_models/<name>``,
    ``saved_models/<name>/tflite``)."""
    versions = sorted((int(p.name) for p in folder.iterdir() if p.name.isdigit()), reverse=True)
    assert versions, f"no exported version under {folder}/"
    return folder / str(versions[0])


def read_fer_faces(shared_data: Path, per_label: int) -> np.ndarray:
    """The first ``per_label`` FER2013 training faces of each emotion, uint8 ``[N, 48, 48, 1]``."""
    import cv2

    files = []
    for label_dir in sorted((shared_data / "fer2013" / "train").iterdir()):
        files += sorted(label_dir.glob("*.png"))[:per_label]
    return np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files])[..., None]


def make_grid_layout(root: Path, clips: list[Path], align_dir_name: str = "align") -> Path:
    """Copy GRID clips into ``root/s1`` with alignments in ``root/<align_dir_name>/s1``."""
    (root / "s1").mkdir(parents=True, exist_ok=True)
    (root / align_dir_name / "s1").mkdir(parents=True, exist_ok=True)
    for clip in clips:
        shutil.copy(clip, root / "s1" / clip.name)
        align = clip.parent.parent / "align" / "s1" / f"{clip.stem}.align"
        shutil.copy(align, root / align_dir_name / "s1" / align.name)
    return root


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4", audio: np.ndarray | None = None,
                audio_rate: int = 16000) -> Path:
    """Write RGB frames ``[T, H, W, 3]`` (and optional mono int16 audio) with PyAV."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        ast = None
        if audio is not None:
            ast = out.add_stream("aac", rate=audio_rate)
            ast.layout = "mono"
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        if ast is not None:
            frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1).astype(np.int16), format="s16", layout="mono")
            frame.sample_rate = audio_rate
            for pkt in ast.encode(frame):
                out.mux(pkt)
            for pkt in ast.encode():
                out.mux(pkt)
    return path


def tiny_clip(clip_id: str, T: int = 8, size: int = 32, transcript: str = "bin blue", label: str = "",
              split: str = "all", seed: int = 0, face: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    clip = {
        "clip_id": clip_id, "source": f"/videos/{clip_id}.mp4", "speaker": "s1", "split": split,
        "transcript": transcript, "label": label, "attributes": {"k": 1}, "fps": 25.0, "num_frames": T,
        "mouth": rng.integers(0, 256, (T, size, size, 1), dtype=np.uint8),
        "mouth_affine": np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (T, 1, 1)),
    }
    if face:
        clip["face"] = rng.integers(0, 256, (T, size, size, 1), dtype=np.uint8)
        clip["face_affine"] = clip["mouth_affine"]
    return clip


@pytest.fixture
def tiny_records(tmp_path) -> Path:
    """Two shards of tiny clips (B=2 per shard, T from 5 to 8, 32×32), GZIP-compressed."""
    from lipkeras.records import io as rio
    from lipkeras.records import schema

    out = tmp_path / "records"
    out.mkdir()
    texts = ["bin blue at f two now", "place red", "set white by k nine again", "lay green"]
    labels = ["happy", "sad", "", "angry"]
    for shard in range(2):
        w = rio.AtomicShardWriter(out / rio.shard_name("train", shard, 2), "gzip")
        for k in range(2):
            i = shard * 2 + k
            w.write(schema.encode(tiny_clip(f"s1/c{i}", T=5 + i, transcript=texts[i], label=labels[i], seed=i)))
        w.commit()
    return out
