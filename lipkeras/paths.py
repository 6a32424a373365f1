"""Where the bundled files live inside the installed package."""

from importlib import resources
from pathlib import Path

PACKAGE_ROOT = Path(str(resources.files("lipkeras")))
ASSETS = PACKAGE_ROOT / "assets"
FACE_LANDMARKER = ASSETS / "face_landmarker.task"
REFERENCE_FACE = ASSETS / "reference_face.npy"
SAMPLES = PACKAGE_ROOT / "samples"
GRID_SAMPLE = SAMPLES / "grid"  # ten GRID clips of speaker 1 with alignments (CC BY 4.0)
CREMAD_SAMPLE = SAMPLES / "cremad"  # six CREMA-D audio-visual clips of actor 1001, one per emotion (ODbL / DbCL)


def saved_models_dirs() -> list[Path]:
    """Where model names are looked up: $LIPKERAS_MODELS, ./saved_models, the checkout's saved_models/."""
    import os

    dirs = []
    if os.environ.get("LIPKERAS_MODELS"):
        dirs.append(Path(os.environ["LIPKERAS_MODELS"]))
    dirs += [Path.cwd() / "saved_models", PACKAGE_ROOT.parent / "saved_models"]
    return dirs
