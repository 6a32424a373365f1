"""Where the bundled files live inside the installed package."""

from importlib import resources
from pathlib import Path

PACKAGE_ROOT = Path(str(resources.files("lipkeras")))
ASSETS = PACKAGE_ROOT / "assets"
FACE_LANDMARKER = ASSETS / "face_landmarker.task"
REFERENCE_FACE = ASSETS / "reference_face.npy"
SAMPLES = PACKAGE_ROOT / "samples"
GRID_SAMPLE = SAMPLES / "grid"
