"""End-to-end preprocessing on the bundled GRID sample (real MediaPipe, real videos)."""

import json
import shutil

import numpy as np
import pytest

from conftest import make_grid_layout
from lipkeras.preprocess import PreprocessConfig, run
from lipkeras.records import io as rio
from lipkeras.records import mouth_dataset
from lipkeras.records.inspect import iter_records
from lipkeras.records.schema import decode_numpy

CLIPS = ["bbaf3s", "bgin3a", "lbaq5s"]


@pytest.fixture(scope="module")
def grid3(tmp_path_factory, grid_sample):
    root = tmp_path_factory.mktemp("grid3")
    return make_grid_layout(root, [grid_sample / "s1" / f"{c}.mp4" for c in CLIPS])


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory, grid3):
    out = tmp_path_factory.mktemp("records")
    cfg = PreprocessConfig(dataset="grid", workers=1, shard_size=2, audio=True)
    return out, run(grid3, out, cfg, progress=False)


def test_manifest(preprocessed):
    out, m = preprocessed
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["written"] == m["written"] == 3
    assert isinstance(m["frames"], int) and m["frames"] == 225
    assert isinstance(m["seconds"], float) and m["seconds"] > 0
    assert m["skipped"] == []
    assert [s["name"] for s in m["shards"]] == ["all-00000-of-00002.tfrecord", "all-00001-of-00002.tfrecord"]
    assert m["config"]["dataset"] == "grid" and m["config"]["mouth_size"] == 96
    assert sorted(p.name for p in out.iterdir()) == ["all-00000-of-00002.tfrecord", "all-00001-of-00002.tfrecord",
                                                     "manifest.json"]


def test_records_content(preprocessed):
    out, _ = preprocessed
    recs = [decode_numpy(raw) for _, raw in iter_records(str(out))]
    assert [r["clip_id"] for r in recs] == [f"s1/{c}" for c in CLIPS]
    for r in recs:
        assert r["num_frames"] == 75  # GRID clips are 3 s at 25 fps
        assert r["mouth"].shape == (75, 96, 96, 1) and r["mouth"].dtype == np.uint8
        assert r["face"].shape == (75, 112, 112, 1)
        assert r["detected"].sum() == 75
        assert r["landmarks"].shape[:2] == (75, r["landmark_indices"].size)
        assert 2.9 * 16000 < r["audio"].size < 3.1 * 16000 and r["audio_rate"] == 16000
        assert r["speaker"] == "s1" and r["split"] == "all"
    assert recs[0]["transcript"] == "bin blue at f three soon"


def test_mouth_is_centred_by_an_independent_detection(preprocessed, grid3):
    """Run MediaPipe again (IMAGE mode) on raw frames; their lips, mapped by the stored affine,
    must sit near the centre of the stored crop, and re-warping reproduces the stored pixels."""
    import cv2

    from lipkeras.preprocess import landmarks as lmk
    from lipkeras.preprocess import video

    out, _ = preprocessed
    rec = decode_numpy(next(iter_records(str(out)))[1])
    frames = video.decode(rec["source"]).frames
    with lmk.FaceLandmarker(video=False, max_faces=1) as lm:
        for t in (0, 20, 40, 60, 74):
            pts = lm.detect(frames[t])
            lips = pts[list(lmk.LIPS)].mean(0)
            m = rec["mouth_affine"][t]
            centre = m[:, :2] @ lips + m[:, 2]
            assert np.all(np.abs(centre - 48) < 4.0), (t, centre)
            gray = cv2.cvtColor(frames[t], cv2.COLOR_RGB2GRAY)
            rewarp = cv2.warpAffine(gray, m.astype(np.float64), (96, 96), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            assert np.abs(rewarp.astype(int) - rec["mouth"][t, ..., 0]).mean() < 2.0


def test_reader_roundtrip(preprocessed):
    out, _ = preprocessed
    b = next(iter(mouth_dataset(str(out), batch_size=3, normalization=None)))
    assert b["frames"].shape == (3, 75, 96, 96, 1)
    assert b["transcript"][0].numpy() == b"bin blue at f three soon"
    raw = decode_numpy(next(iter_records(str(out)))[1])["mouth"]
    np.testing.assert_allclose(b["frames"][0].numpy() * 255.0, raw, atol=1e-3)


def test_resume_skips_finished_shards(preprocessed, grid3, tmp_path):
    out, _ = preprocessed
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    mtimes = {p.name: p.stat().st_mtime_ns for p in copy.glob("*.tfrecord")}
    (copy / "all-00001-of-00002.tfrecord").unlink()  # as if the run had died in the last shard
    m = run(grid3, copy, PreprocessConfig(dataset="grid", workers=1, shard_size=2, audio=True), progress=False)
    assert m["resumed_shards"] == 1 and m["written"] == 3 and m["frames"] == 225
    assert (copy / "all-00000-of-00002.tfrecord").stat().st_mtime_ns == mtimes["all-00000-of-00002.tfrecord"]
    assert (copy / "all-00001-of-00002.tfrecord").exists()
    # A different content config redoes everything.
    m2 = run(grid3, copy, PreprocessConfig(dataset="grid", workers=1, shard_size=2, mouth_size=64), progress=False)
    assert m2["resumed_shards"] == 0
    assert decode_numpy(next(iter_records(str(copy)))[1])["mouth"].shape[1:] == (64, 64, 1)
    # Another shard plan in the same folder: the old plan's shards go, nothing is read twice.
    m3 = run(grid3, copy, PreprocessConfig(dataset="grid", workers=1, shard_size=3, mouth_size=64), progress=False)
    assert m3["removed_stale_shards"] == ["all-00000-of-00002.tfrecord", "all-00001-of-00002.tfrecord"]
    assert sorted(p.name for p in copy.glob("*.tfrecord")) == ["all-00000-of-00001.tfrecord"]
    assert sum(1 for _ in iter_records(str(copy))) == 3


def test_interrupted_run_leaves_no_partial_shard(grid3, tmp_path, monkeypatch):
    from lipkeras.preprocess import process as proc

    calls = {"n": 0}
    real = proc.process

    def dying(item, cfg):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(item, cfg)

    monkeypatch.setattr(proc, "process", dying)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(grid3, out, PreprocessConfig(dataset="grid", workers=1, shard_size=2), progress=False)
    assert list(out.glob("*.tfrecord")) == [] and list(out.glob(".*tmp*")) == []


def test_parallel_workers_and_ratio_split(grid3, tmp_path):
    cfg = PreprocessConfig(dataset="grid", workers=2, split_ratio=(0.34, 0.33, 0.33), seed=0, rois=("mouth",),
                           mouth_size=48)
    m = run(grid3, tmp_path / "out", cfg, progress=False)
    assert m["written"] == 3 and m["splits"] == {"test": 1, "train": 1, "val": 1}
    names = sorted(p.name for p in (tmp_path / "out").glob("*.tfrecord"))
    assert names == ["test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord", "val-00000-of-00001.tfrecord"]
    rec = decode_numpy(next(iter_records(names and str(tmp_path / "out" / names[1])))[1])
    assert "face" not in rec and rec["mouth"].shape[1:] == (48, 48, 1) and rec["split"] == "train"


def test_alignments_folder_layout(grid_sample, tmp_path):
    root = make_grid_layout(tmp_path / "g", [grid_sample / "s1" / "bbaf3s.mp4"], align_dir_name="alignments")
    m = run(root, tmp_path / "out", PreprocessConfig(dataset="grid", workers=1, rois=("mouth",)), progress=False)
    assert m["written"] == 1


def test_uncompressed_shards_are_read_too(grid3, tmp_path):
    out = tmp_path / "plain"
    run(grid3, out, PreprocessConfig(dataset="grid", workers=1, compression="none", rois=("mouth",),
                                     mouth_size=32), progress=False)
    assert rio.compression_of(str(next(out.glob("*.tfrecord")))) == ""
    assert sum(int(b["frames"].shape[0]) for b in mouth_dataset(str(out), batch_size=2)) == 3
