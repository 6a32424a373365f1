"""Checkpoint averaging: the mean of the weights, from files or a run's kept checkpoints."""

import numpy as np

from lipkeras import _quiet

_quiet.import_tensorflow()
import keras  # noqa: E402

from lipkeras.models import build_model  # noqa: E402
from lipkeras.train.average import KeepCheckpoints, average_checkpoints, main  # noqa: E402


def _saved(path, value):
    model = build_model("fast_tiny", 10)
    model.set_weights([np.full(w.shape, value, w.dtype) for w in model.get_weights()])
    model.save(path)
    return path


def test_average_is_the_elementwise_mean(tmp_path):
    paths = [_saved(tmp_path / f"{v}.keras", v) for v in (1.0, 2.0, 6.0)]
    model = average_checkpoints(paths)
    for w in model.get_weights():
        np.testing.assert_allclose(w, 3.0)


def test_cli_and_keep_callback(tmp_path):
    run = tmp_path / "run"
    keep = KeepCheckpoints(run / "checkpoints", keep=2)
    keep.set_model(build_model("fast_tiny", 10))
    for epoch in range(4):
        keep.model.set_weights([np.full(w.shape, float(epoch), w.dtype) for w in keep.model.get_weights()])
        keep.on_epoch_end(epoch)
    assert sorted(p.name for p in (run / "checkpoints").glob("*.keras")) == ["epoch003.keras", "epoch004.keras"]
    assert main(["--run", str(run), "--last", "2", "--out", str(tmp_path / "avg.keras")]) == 0
    avg = keras.saving.load_model(tmp_path / "avg.keras", compile=False)
    np.testing.assert_allclose(avg.get_weights()[0], 2.5)
    assert main(["--out", str(tmp_path / "none.keras")]) == 2
