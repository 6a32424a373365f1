"""Integration on real data from ../shared (skipped with a reason when it is absent)."""

import json
import shutil

import numpy as np
import pytest

from conftest import make_grid_layout
from lipkeras.preprocess import PreprocessConfig, run
from lipkeras.records import face_dataset, mouth_dataset
from lipkeras.records.inspect import iter_records
from lipkeras.records.schema import decode_numpy


def _records(out):
    return {r["clip_id"]: r for r in (decode_numpy(raw) for _, raw in iter_records(str(out)))}


def test_wild_clips_lrs2_lrs3_webcam(shared_data, tmp_path):
    """Faces that are not GRID's: three sources, three transcript conventions."""
    wild = tmp_path / "wild"
    shutil.copytree(shared_data / "wild", wild)
    out = tmp_path / "out"
    m = run(wild, out, PreprocessConfig(dataset="folder", workers=2, audio=True), progress=False)
    assert m["skipped"] == [] and m["written"] == 3, m["skipped"]
    recs = _records(out)
    assert recs["lrs2/00001"]["transcript"].startswith("i have long been an earnest advocate")
    assert recs["lrs3/95ovIJ3dsNk_00009"]["transcript"].startswith("well imagine you're walking")
    assert recs["webcam/1749006627"]["transcript"] == "good morning"
    expected_frames = {"lrs2/00001": 120, "lrs3/95ovIJ3dsNk_00009": 81, "webcam/1749006627": 139}
    for cid, rec in recs.items():
        assert abs(rec["num_frames"] - expected_frames[cid]) <= 1, cid
        assert rec["detected"].mean() > 0.9, cid
        assert rec["mouth"].shape[1:] == (96, 96, 1)
        # The stored lip summary is in reference units; the mouth affine maps the frame to the crop.
        # Check against the crop: lips of every frame lie within a few pixels of the centre.
        from lipkeras.preprocess import landmarks as lmk

        idx = [list(rec["landmark_indices"]).index(i) for i in lmk.LIPS]
        stable = [list(rec["landmark_indices"]).index(i) for i in lmk.STABLE]
        assert np.isfinite(rec["landmarks"][:, idx]).all() and np.isfinite(rec["landmarks"][:, stable]).all()
        lips = rec["landmarks"][:, idx].mean(1)  # reference units; the crop centre follows the smoothed lips
        assert np.all(np.abs(lips[:, 0]) < 0.35) and np.all(np.abs(lips[:, 1] - 1.25) < 0.35), cid
    assert recs["lrs2/00001"]["audio"].size > 4.5 * 16000
    assert "audio" not in recs["webcam/1749006627"]  # that clip has no audio track


def test_wild_mouth_centre_by_independent_detection(shared_data):
    """Independent MediaPipe pass on raw LRS3 frames; lips mapped by the stored affine land mid-crop."""
    from lipkeras.preprocess import landmarks as lmk
    from lipkeras.preprocess import process, video
    from lipkeras.preprocess.sources import Item

    path = shared_data / "wild" / "lrs3" / "95ovIJ3dsNk_00009.mp4"
    clip = process.process_video(Item(str(path), "x", transcript="x"), PreprocessConfig(rois=("mouth",)))
    frames = video.decode(path).frames
    with lmk.FaceLandmarker(video=False) as lm:
        for t in range(0, len(frames), 20):
            pts = lm.detect(frames[t])
            m = clip["mouth_affine"][t]
            c = m[:, :2] @ pts[list(lmk.LIPS)].mean(0) + m[:, 2]
            assert np.all(np.abs(c - 48) < 5.0), (t, c)


def test_grid_from_shared_75_frames(shared_data, tmp_path):
    clips = sorted((shared_data / "grid" / "s1").glob("*.mp4"))[100:104]
    root = make_grid_layout(tmp_path / "g", clips)
    out = tmp_path / "out"
    m = run(root, out, PreprocessConfig(dataset="grid", workers=2, rois=("mouth",)), progress=False)
    assert m["written"] == 4 and m["skipped"] == [] and m["frames"] == 300
    b = next(iter(mouth_dataset(str(out), batch_size=4, training=True, crop_size=88, seed=0)))
    assert b["frames"].shape == (4, 75, 88, 88, 1)


def test_ravdess_audio_and_video_names(shared_data, grid_sample, tmp_path):
    src = tmp_path / "ravdess"
    (src / "Actor_01").mkdir(parents=True)
    for wav in sorted((shared_data / "ravdess_speech" / "Actor_01").glob("*.wav"))[:2]:
        shutil.copy(wav, src / "Actor_01")
    (src / "Actor_21").mkdir()
    shutil.copy(grid_sample / "s1" / "bbaf3s.mp4", src / "Actor_21" / "01-01-03-02-01-01-21.mp4")
    # Without --audio: the audio-only files are skipped with a reason, the video is kept.
    m = run(src, tmp_path / "v", PreprocessConfig(dataset="ravdess", workers=1), progress=False)
    assert m["written"] == 1 and all("audio-only" in s["reason"] for s in m["skipped"]) and len(m["skipped"]) == 2
    m = run(src, tmp_path / "av", PreprocessConfig(dataset="ravdess", workers=1, audio=True, test_speakers=("21",)),
            progress=False)
    assert m["written"] == 3 and m["splits"] == {"test": 1, "train": 2}
    recs = _records(tmp_path / "av")
    video = recs["Actor_21/01-01-03-02-01-01-21"]
    assert video["label"] == "happy" and video["speaker"] == "21" and video["num_frames"] == 75
    assert video["attributes"]["intensity"] == "strong" and video["attributes"]["modality"] == "audio-video"
    assert video["transcript"] == "kids are talking by the door"
    audio = [r for k, r in recs.items() if k.startswith("Actor_01")]
    assert all(r["num_frames"] == 0 and r["audio"].size > 16000 and r["audio_rate"] == 16000 for r in audio)
    assert all(set(r["attributes"]) >= {"modality", "vocal_channel", "emotion", "intensity", "statement",
                                        "repetition", "actor"} for r in audio)
    # Audio-only records carry no frames: the face reader skips them.
    faces = list(face_dataset(str(tmp_path / "av"), batch_size=200))
    assert sum(int(b["image"].shape[0]) for b in faces) == 75


def test_fer_images_aligned_and_photo_detection(shared_data, grid_sample, tmp_path):
    import cv2

    src = tmp_path / "images"
    fer = shared_data / "fer2013" / "train"
    for label in ("angry", "happy", "surprise"):
        (src / label).mkdir(parents=True)
        for p in sorted((fer / label).glob("*.png"))[:3]:
            shutil.copy(p, src / label)
    (src / "surprised").mkdir()  # a synonym folder
    shutil.copy(sorted((fer / "surprise").glob("*.png"))[5], src / "surprised")
    m = run(src, tmp_path / "a", PreprocessConfig(dataset="images", aligned=True, workers=1, face_size=48),
            progress=False)
    assert m["written"] == 10 and m["skipped"] == []
    recs = _records(tmp_path / "a")
    assert all(r["face"].shape == (1, 48, 48, 1) and "mouth" not in r for r in recs.values())
    assert sorted({r["label"] for r in recs.values()}) == ["angry", "happy", "surprise"]
    # A full video frame (not a face crop) is detected and cropped like a video.
    photos = tmp_path / "photos" / "neutral"
    photos.mkdir(parents=True)
    from lipkeras.preprocess import video

    frame = video.decode(grid_sample / "s1" / "bbaf3s.mp4").frames[10]
    cv2.imwrite(str(photos / "grid_frame.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(photos / "blank.png"), np.full((200, 200, 3), 127, np.uint8))
    m = run(tmp_path / "photos", tmp_path / "p", PreprocessConfig(dataset="images", workers=1), progress=False)
    assert m["written"] == 1 and "no face detected" in m["skipped"][0]["reason"]
    rec = next(iter(_records(tmp_path / "p").values()))
    assert rec["face"].shape == (1, 112, 112, 1) and rec["mouth"].shape == (1, 96, 96, 1)


@pytest.mark.large
def test_grid_hundred_clips_no_skip(shared_data, tmp_path):
    clips = sorted((shared_data / "grid" / "s1").glob("*.mp4"))[::8]
    m = run(make_grid_layout(tmp_path / "g", clips), tmp_path / "out",
            PreprocessConfig(dataset="grid", rois=("mouth",)), progress=False)
    assert m["skipped"] == [] and m["written"] == len(clips) and m["frames"] == 75 * len(clips)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["written"] == len(clips)
