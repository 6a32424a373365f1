"""Typed training configuration: flags and/or a YAML/JSON file, printed and saved with each run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lipkeras.emotion import PRECISIONS
from lipkeras.records.io import write_json_atomic
from lipkeras.train.clip_splits import check_options
from lipkeras.train.strategy import STRATEGY_HELP, canonical_name

OPTIMIZERS = ("adamw", "sgd")


def option(default, help: str, **metadata):
    """A config field with its ``--help`` line (``python -m lipkeras.train --stage X --help``)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def field_help(config: type, name: str) -> str:
    """The help of field ``name`` of ``config``; a subclass that only changes a default (``out``,
    ``epochs``) keeps its base class's line."""
    for cls in config.__mro__:
        for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
            if f.name == name and f.metadata.get("help"):
                return f.metadata["help"]
    return ""


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

    out: str = option("runs/grid_fast", "run folder: checkpoints, config.json, history.csv, summary.json")
    epochs: int = option(120, "training epochs (a resumed run counts the ones already done)")
    batch_size: int = option(16, "examples per training step: the global batch, split evenly across the replicas "
                             "of --strategy (the learning rate is not scaled)")
    learning_rate: float = option(2e-3, "peak learning rate, reached after the warm-up")
    min_learning_rate: float = option(2e-5, "learning rate at the end of the cosine decay")
    warmup_epochs: int = option(2, "epochs of linear warm-up from learning_rate/10")
    weight_decay: float = option(1e-4, "decoupled weight decay (AdamW / SGD)")
    clipnorm: float = option(5.0, "clip each gradient to this norm (0: off)")
    optimizer: str = option("adamw", "adamw, or sgd: SGD with Nesterov momentum 0.9 on the same schedule")
    steps_per_epoch: int = option(0, "training steps per epoch (0: one pass over the training data)")
    max_minutes: float = option(0.0, "stop after this much training wall time (0: no limit)")
    keep_checkpoints: int = option(0, "keep the last K epochs under checkpoints/ (for checkpoint averaging)")
    checkpoint_every: int = option(1, "write last.keras and the resume backup every N epochs (short epochs: N > 1)")
    strategy: str = option("default", STRATEGY_HELP)
    precision: str = option("float32", "float32, or bfloat16: Keras mixed_bfloat16 (float32 weights; faster on "
                            "AMX CPUs and TPUs)")
    seed: int = option(0, "seed of the weights, the shuffle and the augmentation")

    def __post_init__(self):
        super().__post_init__()
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        self.strategy = canonical_name(self.strategy)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")


@dataclasses.dataclass
class ClipSplitConfig(TrainingConfig):
    """Which clips train, validate and test (``lipkeras.train.clip_splits``): all empty lets the run
    decide (the records' split field, or the GRID s1 lists on GRID records)."""

    train_ids: str | None = option(None, "training clips: a file of clip ids (one a line) or ids a,b,c (unset "
                                   "while --val-ids is given: every other clip)")
    val_ids: str | None = option(None, "validation clips: a file of clip ids or ids a,b,c")
    test_ids: str | None = option(None, "test clips kept out of training: a file of clip ids or ids a,b,c")
    split_ratio: str = option("", "train,val[,test] fractions of the records' clips, e.g. 0.8,0.1,0.1 "
                              "(when no ids are given)")
    split_by: str = option("speaker", "what --split-ratio splits: speaker (no speaker in two splits) or clip")
    val_speakers: str = option("", "speakers (comma-separated names) whose clips are the validation split")
    test_speakers: str = option("", "speakers (comma-separated names) whose clips are the test split")
    split_seed: int = option(0, "seed of --split-ratio (the same seed, the same split)")
    allow_overlap: bool = option(False, "true: let val/test clips also be training clips (a loud warning)")

    def __post_init__(self):
        super().__post_init__()
        check_options(self.split_ratio, self.split_by)


@dataclasses.dataclass
class VideoTrainingConfig(ClipSplitConfig):
    """Fields of every stage that trains on mouth records."""

    data: str = option("tfrecords/grid_s1", "mouth records: a folder of .tfrecord shards from lipkeras preprocess")
    train_split: str | None = option(None, "train on the records whose split field is this (e.g. train)")
    val_split: str | None = option(None, "validate on the records whose split field is this (e.g. val)")
    crop_size: int = option(88, "side of the (random when training, centred otherwise) mouth crop in pixels")
    flip: bool = option(True, "random horizontal flips of training clips")
    time_masking: bool = option(True, "mask random short spans of training frames")
    speed_perturbation: float = option(0.0, "training clips play at a random speed within ±this (0.1: ±10 %)")
    rotation_degrees: float = option(0.0, "training clips turn by a random angle within ±this many degrees")
    zoom: float = option(0.0, "training clips scale by a random factor within 1 ± this")
    max_frames: int = option(0, "keep at most this many frames per clip (0: all)")
    examples: int = option(3, "validation clips whose decoding is printed each epoch")
    beam_width: int = option(0, "validation decoding: CTC beam width (0: greedy)")
    cache: bool = option(True, "keep the decoded records in memory after the first epoch")
    init_from: str | None = option(None, "start from the weights of this .keras model (fine-tune / continue)")


@dataclasses.dataclass
class LipReadingConfig(VideoTrainingConfig):
    """``--stage lipnet``: a CTC lip reader (LipNet presets or FastLipReader)."""

    STAGE = "lipnet"
    stage: str = "lipnet"
    model: str = option("fast", "model preset of lipkeras.models.PRESETS: fast, fast_wide, fast_hires, fast_tiny, "
                        "lipnet_paper, lipnet_seed, lipnet_tiny", aliases=("--preset",))
    dropout: float = option(-1.0, "dropout rate of the model (negative: the preset's own)")


@dataclasses.dataclass
class DecoderConfig(ClipSplitConfig):
    """``--stage decoder``: pre-train the character transformer decoder as a language model.

    ``text`` is a records folder (its transcripts: the training clips of its clip split), a text
    file (a sentence per line; LRS ``Text:`` lines are understood) or a folder of ``.txt`` files;
    ``val_text`` gives held-out text (filtered by ``val_ids`` when it is records; without it,
    records hold out their validation clips and plain text a seeded 10 %).
    """

    STAGE = "decoder"
    stage: str = "decoder"
    text: str = option("tfrecords/grid_s1", "training text: records (their transcripts), a text file (a sentence "
                       "a line) or a folder of .txt")
    val_text: str | None = option(None, "held-out text, as --text (default: the records' validation clips, or a "
                                  "seeded 10 % of plain text)")
    out: str = "runs/grid_lm"
    preset: str = option("cpu", "size preset of lipkeras.models.CROSSMODAL_PRESETS: tiny, cpu, resnet50")
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    weight_decay: float = 1e-2
    clipnorm: float = 1.0
    max_length: int = option(200, "characters kept per sentence")


@dataclasses.dataclass
class VisualConfig(VideoTrainingConfig):
    """``--stage visual``: visual module + 1-layer GRU + the decoder's frozen output layer, with CTC."""

    STAGE = "visual"
    stage: str = "visual"
    out: str = "runs/grid_visual"
    preset: str = option("cpu", "size preset of lipkeras.models.CROSSMODAL_PRESETS (the decoder's)")
    decoder: str = option("runs/grid_lm", "the decoder stage's run folder or .keras file")
    learning_rate: float = 2e-3


@dataclasses.dataclass
class IntegrateConfig(VideoTrainingConfig):
    """``--stage integrate``: join the visual module and the decoder by cross-attention; joint loss."""

    STAGE = "integrate"
    stage: str = "integrate"
    out: str = "runs/grid_crossmodal"
    visual: str = option("runs/grid_visual", "the visual stage's run folder or .keras file")
    decoder: str = option("runs/grid_lm", "the decoder stage's run folder or .keras file")
    ctc_weight: float = option(0.3, "loss = ctc_weight · CTC + (1 − ctc_weight) · cross-entropy")
    label_smoothing: float = option(0.1, "label smoothing of the attention decoder's cross-entropy")
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
    data: str = option("../shared/data/fer2013/train", "face images (ROOT/<label>/*.png), face records, or "
                       "arrays (.npz)")
    val_data: str | None = option(None, "validation faces in another folder (default: val_fraction of data)")
    val_fraction: float = option(0.1, "seeded, stratified share of data held out for validation")
    drop_leaked_val: bool = option(True, "drop validation faces with an exact pixel copy in training")
    out: str = "runs/fer_emotion"
    input_size: int = option(48, "face side in pixels the model reads")
    mean_face: bool = option(True, "subtract the training set's mean face first (the design's)")
    convs_per_block: int = option(2, "Conv2D layers per block")
    dense_units: int = option(128, "units of the dense layer before the output")
    dropout: float = option(0.4, "dropout after each conv block")
    dense_dropout: float = option(0.5, "dropout after the dense layer")
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    weight_decay: float = 0.0
    clipnorm: float = 0.0
    lr_patience: int = option(3, "plateau schedule: epochs without progress before the rate halves")
    early_stopping_patience: int = option(8, "epochs without better validation accuracy before stopping (0: off)")
    cutout: float = option(0.2, "random cutout height/width factor (0: off)")
    rotation: float = option(0.05, "random rotation, a fraction of a full turn")
    zoom: float = option(0.1, "random zoom factor")
    translation: float = option(0.0, "random shift, a fraction of the face size in each direction (0: off)")
    contrast: float = option(0.2, "random contrast factor")
    label_smoothing: float = option(0.0, "ε of each target spread uniformly over the labels (0: plain cross-entropy)")
    mixup: float = option(0.0, "α of mixup: faces and targets blended, λ ~ Beta(α, α) (0: off)")
    cache: bool = option(True, "keep the decoded faces in memory after the first epoch")
    filters: str = option("32,64,128,256", "one Conv2D block per entry (the design's 32 5×5, 64 5×5, 128 3×3, "
                          "256 3×3)")
    kernel_sizes: str = option("", "one kernel size per block, e.g. 3,3,3,3 (empty: the design's 5, 5, then 3s)")
    lr_schedule: str = option("plateau", "plateau: ReduceLROnPlateau (the design's), or cosine: warm-up + cosine "
                              "over --epochs")
    max_train_faces: int = option(0, ">0: a seeded stratified subset of the training faces (quick comparisons)")
    frames_per_clip: int = option(16, "face records: frames sampled per video")
    val_split: str = option("val", "face records: the split validated on (RAVDESS: actors 19-20)")
    tune: int = option(0, ">0: keras-tuner random search of this many trials instead of one training run")
    tune_epochs: int = option(10, "epochs per tuner trial (early stopping inside)")
    from_tuner: str | None = option(None, "train with the best hyperparameters of this tuning run folder")
    init_from: str | None = option(None, "start from this .keras model's weights (same design and labels; other "
                                   "widths resized)")
    distill_from: str | None = option(None, "a trained emotion .keras model (or several, comma-separated: their "
                                      "mean) whose probabilities become the training targets")
    distill_weight: float = option(0.7, "the teacher's share of each target, the one-hot label the rest")
    distill_views: int = option(10, "test-time views the teacher averages over")
    distill_temperature: float = option(1.0, ">1 softens the teacher's probabilities (p^(1/T), renormalised)")
    # online: targets that follow the augmentation, not the teacher's memory of the plain faces
    distill_online: bool = option(False, "the teacher scores each augmented training batch as it is drawn")

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


@dataclasses.dataclass
class AudioEmotionConfig(ClipSplitConfig):
    """``--stage audio-emotion``: ``SpeechEmotionCRNN`` (log-mel → conv blocks → LSTM → embedding →
    softmax) on the audio of records (``preprocess --dataset ravdess --audio``). Clips split by the
    usual rules (RAVDESS speech records written with ``--split-list lipkeras/splits/ravdess_speech``
    carry the committed actor split: 01-14 train, 15-16 val, 17-20 test); the best checkpoint by
    validation accuracy is scored on the test clips at the end.
    """

    STAGE = "audio-emotion"
    stage: str = "audio-emotion"
    data: str = option("runs/ravdess_audio", "audio records: a folder of .tfrecord shards from lipkeras preprocess "
                       "--audio")
    out: str = "runs/speech_emotion"
    labels: str = option("", "labels in model order, comma-separated (empty: the canonical labels present in the "
                         "training clips)")
    max_seconds: float = option(3.0, "seconds of each clip the model reads (random window when training, centred "
                                "otherwise)")
    sample_rate: int = option(16000, "audio rate the model reads (records at another rate are left out)")
    n_mels: int = option(64, "mel bands of the log-mel spectrogram")
    filters: str = option("16,32,64,128", "one Conv2D block per entry")
    time_pools: str = option("2,2,2,1", "max-pooling along time after each block")
    freq_pools: str = option("2,2,2,2", "max-pooling along mel after each block")
    conv_dropout: float = option(0.1, "dropout after each conv block")
    lstm_units: int = option(256, "units of the LSTM")
    embedding_units: int = option(256, "units of the dense embedding layer (what fusion models read)")
    dropout: float = option(0.3, "dropout after the LSTM and after the embedding")
    freq_masks: int = option(2, "SpecAugment: frequency bands masked per training clip")
    freq_mask_width: int = option(8, "SpecAugment: widest frequency band, in mel bins")
    time_masks: int = option(2, "SpecAugment: time spans masked per training clip")
    time_mask_width: int = option(20, "SpecAugment: longest time span, in frames (10 ms)")
    gain_db: float = option(6.0, "random gain of training clips within ±this many dB (0: off)")
    label_smoothing: float = option(0.1, "ε of each target spread uniformly over the labels")
    early_stopping_patience: int = option(0, "epochs without better validation accuracy before stopping (0: off)")
    cache: bool = option(True, "keep the decoded clips in memory after the first epoch")
    init_from: str | None = option(None, "start from the weights of this .keras model (same architecture and labels)")
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-5
    weight_decay: float = 1e-4
    warmup_epochs: int = 2

    def __post_init__(self):
        super().__post_init__()
        if self.max_seconds < 0.1:
            raise ValueError(f"max_seconds must be at least 0.1, got {self.max_seconds}")
        if not len(int_list(self.filters)) == len(int_list(self.time_pools)) == len(int_list(self.freq_pools)):
            raise ValueError(f"filters {self.filters!r}, time_pools {self.time_pools!r} and freq_pools "
                             f"{self.freq_pools!r}: one entry per conv block")


@dataclasses.dataclass
class AVEmotionConfig(TrainingConfig):
    """``--stage av-emotion``: a speech stream + a face stream fused by BEL (decision level) or MoBEL
    (feature level), on audio-visual records or on label-matched pairs (``lipkeras.train.av_emotion``)."""

    STAGE = "av-emotion"
    stage: str = "av-emotion"
    data: str = option("pairs", "audio-visual records (face frames + audio + label), or pairs: label-matched "
                       "RAVDESS utterances + FER faces")
    speech_model: str = option("speech_emotion", "the speech stream: a .keras model or name under saved_models/ "
                               "(waveform + lengths → probabilities, with an 'embedding' layer)")
    speech_labels: str = option("", "the speech model's labels, comma-separated (empty: its own)")
    face_model: str = option("fer_emotion", "the face stream: an EmotionCNN (pooled over the key frames), or "
                             "clip3d: a fresh FaceClip3DCNN trained jointly")
    face_labels: str = option("", "the face model's labels, comma-separated (empty: its own)")
    labels: str = option("", "the fused labels, comma-separated (empty: every label of either stream)")
    fusion: str = option("bel", "bel (decision level) or mobel (feature level)")
    bel_mode: str = option("learned", "BEL: learned (per-class stream weights), product or mean")
    stream_weights: str = option("", "BEL: per-stream weights speech,face (product/mean; learned starts there)")
    mobel_units: int = option(256, "MoBEL: units of its sensory and orbitofrontal layers")
    train_streams: bool = option(False, "also train the streams (joint); false: only the fusion, on their outputs")
    frames: int = option(12, "face key frames per clip (evenly spaced)")
    face_size: int = option(48, "clip3d: face side in pixels")
    max_seconds: float = option(0.0, "audio per clip: its centred window of this many seconds (0: the speech "
                                "model's own window, max_seconds in its lipkeras.json; 4 s without one)")
    train_split: str = option("train", "records: the split trained on (empty: all)")
    val_split: str = option("val", "records: the split validated on")
    speech_data: str = option("../shared/data/ravdess_speech", "pairs: RAVDESS speech (Actor_XX/*.wav)")
    face_data: str = option("../shared/data/fer2013/train", "pairs: FER faces (<label>/*.png)")
    train_actors: str = option("1-14", "pairs: RAVDESS actors of the training pairs")
    val_actors: str = option("15-16", "pairs: RAVDESS actors of the validation pairs")
    test_actors: str = option("17-20", "pairs: RAVDESS actors of the test pairs (benchmarks)")
    face_val_fraction: float = option(0.1, "pairs: FER validation share (as --stage emotion)")
    face_split_seed: int = option(0, "pairs: seed of the FER split (as --stage emotion)")
    early_stopping_patience: int = option(10, "epochs without better validation accuracy before stopping (0: off)")
    ship: str = option("", "copy the trained model here (e.g. saved_models/av_emotion)")
    out: str = "runs/av_emotion"
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-2
    clipnorm: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if self.fusion not in ("bel", "mobel"):
            raise ValueError(f"fusion must be 'bel' or 'mobel', got {self.fusion!r}")
        if self.bel_mode not in ("learned", "product", "mean"):  # lipkeras.layers.emotion_fusion.FUSION_MODES
            raise ValueError(f"bel_mode must be learned, product or mean, got {self.bel_mode!r}")


def int_list(text: str) -> tuple[int, ...]:
    """``"32,64,128"`` → ``(32, 64, 128)`` (comma-separated flags such as ``--filters``)."""
    return tuple(int(v) for v in str(text).split(",") if v.strip())


STAGE_CONFIGS = {c.STAGE: c for c in (LipReadingConfig, DecoderConfig, VisualConfig, IntegrateConfig, EmotionConfig,
                                       AudioEmotionConfig, AVEmotionConfig)}


def load_fields(path: str | Path) -> dict:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)
