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
    r = subprocess.run([sys.executable, "-m", "lipkeras", "emotion", str(tmp_path / "inputs"), "--model",
                        str(tmp_path / "emo.keras"), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # one input failed, the others ran
    rows = {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line) for line in r.stdout.splitlines()}
    assert set(rows) == {"crop.png", "clip.mp4", "broken.jpg"}
    assert "error" in rows["broken.jpg"] and "broken.jpg" in r.stderr and "Traceback" not in r.stderr
    for name, frames in (("crop.png", 1), ("clip.mp4", 75)):
        d = rows[name]
        assert d["label"] in LABELS and set(d["probs"]) == set(LABELS) and d["frames"] == frames
        assert abs(sum(d["probs"].values()) - 1) < 1e-3
