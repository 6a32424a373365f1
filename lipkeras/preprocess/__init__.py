"""Preprocessing: any video → MediaPipe landmarks → interpolate + smooth → similarity warp →
mouth ROI and face crops → sharded TFRecords (with transcripts, labels and optional audio).

Entry points: ``lipkeras preprocess`` / ``python -m lipkeras.preprocess`` and :func:`run`.
"""

from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.preprocess.errors import SkipInput


def run(input_path, output, config: PreprocessConfig | None = None, progress: bool = True) -> dict:
    """Preprocess ``input_path`` into ``output``; returns the manifest (also in ``output/manifest.json``)."""
    from lipkeras.preprocess.pipeline import run as _run

    return _run(input_path, output, config or PreprocessConfig(), progress=progress)


__all__ = ["PreprocessConfig", "SkipInput", "run"]
