"""``lipkeras emotion``: images (face crops and photos), videos, folders, bad inputs; JSON per input."""

import json
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

from lipkeras import _quiet

_quiet.import_tensorflow()

from lipkeras.models import EmotionCNN  # noqa: E402

LABELS = ("angry", "happy", "neutral")


def test_emotion_command_on_a_folder(grid_sample, tmp_path):
    model = EmotionCNN(labels=LABELS, input_size=48, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=1,
                       dense_units=8)
    model.save(tmp_path / "emo.keras")
    folder = tmp_path / "inputs" / "nested"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(folder / "crop.png")  # a face crop
    shutil.copy(sorted((grid_sample / "s1").glob("*.mp4"))[0], folder / "clip.mp4")
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(folder / "speck.png")  # no face, too small to be a crop
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(folder / "blank.png")  # no face, no content
    r = subprocess.run([sys.executable, "-m", "lipkeras", "emotion", str(tmp_path / "inputs"), "--model",
                        str(tmp_path / "emo.keras"), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # one input failed, the others ran
    rows = {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert set(rows) == {"crop.png", "clip.mp4", "broken.jpg", "empty.png", "speck.png", "blank.png"}
    assert "error" in rows["broken.jpg"] and "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    assert rows["broken.jpg"]["error"] == "not a readable image (corrupt or unknown format)"
    assert rows["empty.png"]["error"] == "empty file (0 bytes)"  # the reason, not the image library's
    assert rows["speck.png"]["error"] == "too small for a face (5x5 px; a face crop needs 16 px a side)"
    assert rows["blank.png"]["error"] == "blank image (every pixel 128): no face"
    for name, frames, averaged in (("crop.png", 1, 1), ("clip.mp4", 75, 32)):  # a video: 32 sampled frames
        d = rows[name]
        assert d["label"] in LABELS and set(d["probs"]) == set(LABELS) and d["frames"] == frames
        assert d["frames_averaged"] == averaged
        assert abs(sum(d["probs"].values()) - 1) < 1e-3


def test_evaluate_emotion_on_real_fer_faces(shared_data, tmp_path):
    model = EmotionCNN(labels=LABELS, input_size=48, filters=(4, 8), kernel_sizes=(5, 3), convs_per_block=1,
                       dense_units=8)
    model.save(tmp_path / "emo.keras")
    root = tmp_path / "fer"
    for name in LABELS + ("sad",):  # "sad" is not one of the model's labels: skipped and counted
        (root / name).mkdir(parents=True)
        for f in sorted((shared_data / "fer2013" / "train" / name).glob("*.png"))[:5]:
            shutil.copy(f, root / name / f.name)
    (root / LABELS[0] / "empty.png").write_bytes(b"")  # unreadable faces: skipped with a reason, the rest scored
    r = subprocess.run([sys.executable, "-m", "lipkeras", "evaluate", "--stage", "emotion", "--model",
                        str(tmp_path / "emo.keras"), "--data", str(root), "--json", "--csv",
                        str(tmp_path / "out" / "fer.csv")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    empty = str(root / LABELS[0] / "empty.png")
    assert m["skipped"] == [{"path": empty, "reason": "empty file (0 bytes)"}]
    assert f"lipkeras evaluate: {empty}: empty file (0 bytes)" in r.stderr.splitlines()
    assert m["frame"]["samples"] == 15 and m["skipped_other_labels"] == 5 and 0 <= m["frame"]["accuracy"] <= 1
    assert set(m["frame"]["per_class"]) == set(LABELS) and {"precision", "recall", "f1"} <= set(m["frame"]["macro"])
    rows = (tmp_path / "out" / "fer_confusion.csv").read_text().splitlines()
    assert len(rows) == 4 and sum(int(v) for row in rows[1:] for v in row.split(",")[1:]) == 15
    assert (tmp_path / "out" / "fer_confusion.png").stat().st_size > 1000
    # Two of the faces, re-encoded as BMP in a "training" folder: left out of the scores and counted.
    seen = tmp_path / "seen" / "happy"
    seen.mkdir(parents=True)
    for f in sorted((root / "happy").glob("*.png"))[:2]:
        Image.open(f).save(seen / (f.stem + ".bmp"))
    r = subprocess.run([sys.executable, "-m", "lipkeras", "evaluate", "--stage", "emotion", "--model",
                        str(tmp_path / "emo.keras"), "--data", str(root), "--json", "--csv",
                        str(tmp_path / "out" / "fer2.csv"), "--exclude-copies-of", str(tmp_path / "seen")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["excluded_copies"] == 2 and m["frame"]["samples"] == 13
    assert m["frame"]["per_class"]["happy"]["support"] == 3


def test_transcribe_reports_the_speakers_emotion(grid_sample, tmp_path):
    model = EmotionCNN(labels=LABELS, input_size=48, filters=(4,), kernel_sizes=(5,), convs_per_block=1, dense_units=8)
    model.save(tmp_path / "emo.keras")
    clip = sorted((grid_sample / "s1").glob("*.mp4"))[0]
    r = subprocess.run([sys.executable, "-m", "lipkeras", "transcribe", str(clip), "--json", "--emotion-model",
                        str(tmp_path / "emo.keras")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["text"] and d["emotion"] in LABELS and set(d["emotion_probs"]) == set(LABELS)
    r = subprocess.run([sys.executable, "-m", "lipkeras", "transcribe", str(clip), "--json", "--emotion-model",
                        "none"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "emotion" not in json.loads(r.stdout.strip().splitlines()[-1])


def test_a_folder_of_face_crops_goes_through_in_batches(shared_data, tmp_path):
    """FER-size crops skip the landmarker (by size) and are classified in batches, in input order,
    with a corrupt file reported on its own line."""
    import cv2

    from lipkeras.emotion import EmotionReader

    faces = sorted((shared_data / "fer2013" / "train" / "happy").glob("*.png"))[:5]
    for f in faces:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    reader = EmotionReader("fer_emotion", views=1)
    paths = sorted(str(p) for p in tmp_path.glob("*.png"))
    assert all(reader.is_face_crop(p) for p in paths if "broken" not in p)
    assert not reader.is_face_crop(tmp_path / "broken.png")
    out = reader.classify_face_crops(paths, batch_size=2)
    assert "unreadable image" in str(out[str(tmp_path / "broken.png")])
    one_by_one = reader.predict_faces(np.stack([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)[..., None] for f in faces]))
    for f, probs in zip(faces, one_by_one):
        assert out[str(tmp_path / f.name)]["label"] == reader.labels[int(probs.argmax())]
