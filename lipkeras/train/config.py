"""Typed training configuration: flags and/or a YAML/JSON file, printed and saved with each run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lipkeras.paths import PACKAGE_ROOT

GRID_S1_SPLITS = PACKAGE_ROOT / "splits" / "grid_s1"


@dataclasses.dataclass
class LipReadingConfig:
    stage: str = "lipnet"
    data: str = "tfrecords/grid_s1"
    out: str = "runs/grid_fast"
    model: str = "fast"  # a preset of lipkeras.models.PRESETS
    train_ids: str | None = str(GRID_S1_SPLITS / "train.txt")
    val_ids: str | None = str(GRID_S1_SPLITS / "val.txt")
    test_ids: str | None = str(GRID_S1_SPLITS / "test.txt")
    train_split: str | None = None  # or select by the records' own split field
    val_split: str | None = None
    epochs: int = 120
    batch_size: int = 16
    learning_rate: float = 2e-3
    min_learning_rate: float = 2e-5
    warmup_epochs: int = 2
    weight_decay: float = 1e-4
    clipnorm: float = 5.0
    crop_size: int = 88
    flip: bool = True
    time_masking: bool = True
    max_frames: int = 0
    steps_per_epoch: int = 0  # 0: one pass over the training clips
    max_minutes: float = 0.0  # stop after this much training wall time (0: no limit)
    examples: int = 3
    beam_width: int = 0  # validation decoding: 0 greedy
    strategy: str = "none"
    seed: int = 0
    cache: bool = True
    init_from: str | None = None  # start from the weights of this .keras model (fine-tune / continue)

    def __post_init__(self):
        if self.stage != "lipnet":
            raise ValueError(f"LipReadingConfig is for --stage lipnet, got {self.stage!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def load_fields(path: str | Path) -> dict:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)
