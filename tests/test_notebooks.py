"""The notebooks in notebooks/ run top to bottom, headless, on the bundled data only.

Each is executed by a fresh Jupyter kernel (nbclient) with the repository root as working
directory and first on PYTHONPATH, so it imports this checkout's ``lipkeras``; what the notebooks
write goes under one temporary folder (``LIPKERAS_NOTEBOOK_OUT``), shared so the sample records
are preprocessed once. A cell that raises fails the notebook's test. The committed notebooks carry
no outputs (they are regenerated here, never checked in stale).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
# One per module of the design, in its order.
EXPECTED = ["01_preprocessing", "02_records_and_tf_data", "03_visual_module", "04_decoder_language_model",
            "05_piecewise_training_and_integration", "06_emotion", "07_export_and_serving",
            "08_audio_visual_emotion"]
TEXT_ONLY = {"07_export_and_serving"}  # signatures and HTTP replies: text is what there is to see
CELL_TIMEOUT = 600  # seconds; a notebook takes well under two minutes on 2 CPU cores


def _read(name: str):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(str(NOTEBOOKS / f"{name}.ipynb"), as_version=4)


def test_one_notebook_per_design_module():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED
    listing = (NOTEBOOKS / "README.md").read_text()
    assert all(f"{name}.ipynb" in listing for name in EXPECTED), "notebooks/README.md lists every notebook"


@pytest.mark.parametrize("name", EXPECTED)
def test_committed_notebook_has_no_outputs(name):
    """Outputs are produced by running, never committed: strip them before committing
    (e.g. ``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb``)."""
    nb = _read(name)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}.ipynb cell {i} has outputs"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[1].source.startswith("# Parameters"), \
        f"{name}.ipynb: a title, then the parameters cell"


@pytest.fixture(scope="module")
def notebook_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_runs(name, notebook_out, monkeypatch, record_property):
    pytest.importorskip("ipykernel")
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")

    nb = _read(name)
    # First, in the executed copy only: the kernel imports this checkout's lipkeras.
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        "import lipkeras, pathlib\n"
        f"assert pathlib.Path(lipkeras.__file__).resolve().parent == pathlib.Path({str(REPO / 'lipkeras')!r}), "
        "lipkeras.__file__"))
    # The kernel inherits this environment.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("LIPKERAS_NOTEBOOK_OUT", str(notebook_out))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the cell and its traceback) when a cell fails
    seconds = round(time.perf_counter() - t0, 1)
    record_property("seconds", seconds)
    with open(notebook_out / "seconds.jsonl", "a") as fh:
        fh.write(json.dumps({"notebook": name, "seconds": seconds}) + "\n")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    if name not in TEXT_ONLY:  # the others are meant to be looked at
        images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert images, f"{name}: no figure came out"


def test_sample_records_keep_a_training_clip(tmp_path):
    """``lipkeras.demo.sample_records`` (the notebooks' shared records) refuses a split with no
    training clip before preprocessing anything."""
    from lipkeras.demo import sample_records

    with pytest.raises(ValueError, match="at least one"):
        sample_records(tmp_path / "records", clips=2, val_clips=2)
    assert not (tmp_path / "records").exists()
