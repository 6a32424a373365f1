"""Typed training configuration: flags and/or a YAML/JSON file, printed and saved with each run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lipkeras.emotion import PRECISIONS
from lipkeras.paths import PACKAGE_ROOT
from lipkeras.records.io import write_json_atomic

GRID_S1_SPLITS = PACKAGE_ROOT / "splits" / "grid_s1"
OPTIMIZERS = ("adamw", "sgd")


@dataclasses.dataclass
class StageConfig:
    """Shared plumbing: ``stage`` names the config's stage; saved as JSON next to the run."""

    STAGE = ""

    def __post_init__(self):
        if self.stage != self.STAGE:
            raise ValueError(f"{type(self).__name__} is for --stage {self.STAGE}, got {self.stage!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_dict())


@dataclasses.dataclass
class TrainingConfig(StageConfig):
    """Optimisation fields of every stage (AdamW or SGD, warm-up + cosine, budget, strategy)."""

    out: str = "runs/grid_fast"
    epochs: int = 120
    batch_size: int = 16
    learning_rate: float = 2e-3
    min_learning_rate: float = 2e-5
    warmup_epochs: int = 2
    weight_decay: float = 1e-4
    clipnorm: float = 5.0
    optimizer: str = "adamw"  # or "sgd": SGD with Nesterov momentum 0.9 (decoupled weight decay), same schedule
    steps_per_epoch: int = 0  # 0: one pass over the training data
    max_minutes: float = 0.0  # stop after this much training wall time (0: no limit)
    keep_checkpoints: int = 0  # keep the last K epochs under checkpoints/ (for checkpoint averaging)
    checkpoint_every: int = 1  # write last.keras and the resume backup every N epochs (short epochs: N > 1)
    strategy: str = "none"
    precision: str = "float32"  # or "bfloat16": Keras mixed_bfloat16 (float32 weights; faster on AMX CPUs, TPUs)
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")


@dataclasses.dataclass
class VideoTrainingConfig(TrainingConfig):
    """Fields of every stage that trains on mouth records."""

    data: str = "tfrecords/grid_s1"
    train_ids: str | None = str(GRID_S1_SPLITS / "train.txt")
    val_ids: str | None = str(GRID_S1_SPLITS / "val.txt")
    test_ids: str | None = str(GRID_S1_SPLITS / "test.txt")
    train_split: str | None = None  # or select by the records' own split field
    val_split: str | None = None
    crop_size: int = 88
    flip: bool = True
    time_masking: bool = True
    speed_perturbation: float = 0.0  # training clips play at a random speed within ±this (0.1: ±10 %)
    rotation_degrees: float = 0.0  # training clips turn by a random angle within ±this many degrees
    zoom: float = 0.0  # training clips scale by a random factor within 1 ± this (as the emotion stage's --zoom)
    max_frames: int = 0
    examples: int = 3
    beam_width: int = 0  # validation decoding: 0 greedy
    cache: bool = True
    init_from: str | None = None  # start from the weights of this .keras model (fine-tune / continue)


@dataclasses.dataclass
class LipReadingConfig(VideoTrainingConfig):
    """``--stage lipnet``: a CTC lip reader (LipNet presets or FastLipReader)."""

    STAGE = "lipnet"
    stage: str = "lipnet"
    model: str = "fast"  # a preset of lipkeras.models.PRESETS


@dataclasses.dataclass
class DecoderConfig(TrainingConfig):
    """``--stage decoder``: pre-train the character transformer decoder as a language model.

    ``text`` is a records folder (its transcripts, filtered by ``train_ids``), a text file (a
    sentence per line; LRS ``Text:`` lines are understood) or a folder of ``.txt`` files;
    ``val_text``/``val_ids`` likewise give the held-out text (default: the records' ``val_ids``;
    plain text without ``val_text``: a seeded 10 % of it).
    """

    STAGE = "decoder"
    stage: str = "decoder"
    text: str = "tfrecords/grid_s1"
    train_ids: str | None = str(GRID_S1_SPLITS / "train.txt")
    val_text: str | None = None
    val_ids: str | None = str(GRID_S1_SPLITS / "val.txt")
    out: str = "runs/grid_lm"
    preset: str = "cpu"  # lipkeras.models.CROSSMODAL_PRESETS
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    weight_decay: float = 1e-2
    clipnorm: float = 1.0
    max_length: int = 200


@dataclasses.dataclass
class VisualConfig(VideoTrainingConfig):
    """``--stage visual``: visual module + 1-layer GRU + the decoder's frozen output layer, with CTC."""

    STAGE = "visual"
    stage: str = "visual"
    out: str = "runs/grid_visual"
    preset: str = "cpu"
    decoder: str = "runs/grid_lm"  # the decoder stage's run folder or .keras file
    learning_rate: float = 2e-3


@dataclasses.dataclass
class IntegrateConfig(VideoTrainingConfig):
    """``--stage integrate``: join the visual module and the decoder by cross-attention; joint loss."""

    STAGE = "integrate"
    stage: str = "integrate"
    out: str = "runs/grid_crossmodal"
    visual: str = "runs/grid_visual"
    decoder: str = "runs/grid_lm"
    ctc_weight: float = 0.3  # loss = ctc_weight · CTC + (1 − ctc_weight) · CE
    label_smoothing: float = 0.1
    epochs: int = 60
    learning_rate: float = 1e-3
    warmup_epochs: int = 1

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}")


@dataclasses.dataclass
class EmotionConfig(TrainingConfig):
    """``--stage emotion``: the design's mean-face CNN on face images (``ROOT/<label>/*.png``) or on
    face records made by ``preprocess`` from labelled videos (train on split ``train``, validate
    on ``val_split``; ``frames_per_clip`` frames per video).

    Adam at a constant rate with ReduceLROnPlateau and EarlyStopping (as the design), or with
    ``lr_schedule="cosine"`` AdamW with warm-up and cosine decay over ``epochs`` (better when the
    number of epochs is fixed by a time budget); ``optimizer="sgd"`` puts SGD with Nesterov
    momentum in Adam(W)'s place; the best checkpoint by validation accuracy. The
    validation split is a seeded, stratified ``val_fraction`` of ``data`` unless ``val_data``
    names another folder; either way validation faces whose pixels exactly equal a training
    face's are dropped (``drop_leaked_val``: FER2013's folder has such copies, and a model scores
    ~90 % on them against ~66 % on the rest).
    """

    STAGE = "emotion"
    stage: str = "emotion"
    data: str = "../shared/data/fer2013/train"
    val_data: str | None = None
    val_fraction: float = 0.1
    drop_leaked_val: bool = True  # validation faces with an exact pixel copy in training are dropped
    out: str = "runs/fer_emotion"
    input_size: int = 48
    mean_face: bool = True
    convs_per_block: int = 2
    dense_units: int = 128
    dropout: float = 0.4
    dense_dropout: float = 0.5
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    weight_decay: float = 0.0
    clipnorm: float = 0.0
    lr_patience: int = 3
    early_stopping_patience: int = 8
    cutout: float = 0.2  # keras-cv RandomCutout height/width factor (0: off)
    rotation: float = 0.05  # fraction of a full turn
    zoom: float = 0.1
    translation: float = 0.0  # random shift, a fraction of the face size in each direction (0: off)
    contrast: float = 0.2
    label_smoothing: float = 0.0  # ε of each target spread uniformly over the labels (0: plain cross-entropy)
    mixup: float = 0.0  # α of mixup: each training face blended with another, λ ~ Beta(α, α), targets too (0: off)
    cache: bool = True
    filters: str = "32,64,128,256"  # one Conv2D block per entry (the design's 32 5×5, 64 5×5, 128 3×3, 256 3×3)
    kernel_sizes: str = ""  # one per block, e.g. "3,3,3,3" (VGG-like); empty: the design's 5, 5, then 3s
    lr_schedule: str = "plateau"  # the design's ReduceLROnPlateau, or "cosine": warm-up + cosine over --epochs
    max_train_faces: int = 0  # >0: a seeded stratified subset of the training faces (quick comparisons)
    frames_per_clip: int = 16  # face records: frames sampled per video (the same number for every clip)
    val_split: str = "val"  # face records: the split validated on (RAVDESS: actors 19-20)
    tune: int = 0  # >0: keras-tuner random search of this many trials instead of one training run
    tune_epochs: int = 10  # epochs per tuner trial (early stopping inside)
    from_tuner: str | None = None  # train with the best hyperparameters of this tuning run folder
    init_from: str | None = None  # start from this .keras model's weights (same design and labels; other widths resized)
    distill_from: str | None = None  # a trained emotion .keras model (or several, comma-separated: their mean) whose probabilities become the training targets
    distill_weight: float = 0.7  # the teacher's share of each target, the one-hot label the rest
    distill_views: int = 10  # test-time views the teacher averages over (its best probabilities)
    distill_temperature: float = 1.0  # >1 softens the teacher's probabilities (p^(1/T), renormalised)
    distill_online: bool = False  # the teacher scores each augmented training batch as it is drawn (consistent
    # teaching), not the plain faces once: targets that are not its memory of the training faces

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must lie in [0, 1], got {self.distill_weight}")
        if self.distill_temperature <= 0:
            raise ValueError(f"distill_temperature must be positive, got {self.distill_temperature}")
        if self.lr_schedule not in ("plateau", "cosine"):
            raise ValueError(f"lr_schedule must be 'plateau' or 'cosine', got {self.lr_schedule!r}")
        if self.kernel_sizes and len(int_list(self.kernel_sizes)) != len(int_list(self.filters)):
            raise ValueError(f"kernel_sizes {self.kernel_sizes!r}: one kernel size per block of filters {self.filters!r}")


def int_list(text: str) -> tuple[int, ...]:
    """``"32,64,128"`` → ``(32, 64, 128)`` (comma-separated flags such as ``--filters``)."""
    return tuple(int(v) for v in str(text).split(",") if v.strip())


STAGE_CONFIGS = {c.STAGE: c for c in (LipReadingConfig, DecoderConfig, VisualConfig, IntegrateConfig, EmotionConfig)}


def load_fields(path: str | Path) -> dict:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)
