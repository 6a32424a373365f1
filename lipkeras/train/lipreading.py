"""``--stage lipnet``: train a CTC lip reader (LipNet presets or FastLipReader) on mouth records."""

from __future__ import annotations

from lipkeras.train.config import LipReadingConfig
from lipkeras.train.runner import data_seed, in_precision


def datasets(cfg, splits=None):
    """(train, val) mouth datasets of a video-training config (any stage that reads mouths), on the
    clips of ``splits`` (a ``ClipSplits``; default: decided from the config and the records)."""
    from lipkeras.records import mouth_dataset
    from lipkeras.train.clip_splits import resolve

    splits = splits or resolve(cfg.data, cfg)
    common = dict(normalization=None, crop_size=cfg.crop_size, max_frames=cfg.max_frames or None)
    train = mouth_dataset(cfg.data, batch_size=cfg.batch_size, training=True, flip=cfg.flip,
                          time_masking=cfg.time_masking, speed_perturbation=cfg.speed_perturbation,
                          rotation_degrees=cfg.rotation_degrees, zoom=cfg.zoom,
                          clip_ids=splits.ids["train"], cache=cfg.cache, seed=data_seed(cfg), **common)
    val = mouth_dataset(cfg.data, batch_size=cfg.batch_size, clip_ids=splits.ids["val"], cache=cfg.cache, **common)
    return train, val


def count(ds) -> int:
    return sum(int(b["frames"].shape[0]) for b in ds)


def as_xy(batch):
    return {"frames": batch["frames"], "frame_lengths": batch["frame_lengths"]}, batch["labels"]


def load_datasets(cfg):
    """(train, val, n_train, steps): counts the clips (one pass also fills the caches)."""
    from lipkeras.train.runner import steps_for

    from lipkeras.train.clip_splits import for_run

    train_ds, val_ds = datasets(cfg, for_run(cfg.data, cfg, cfg.out))
    n_train, n_val = count(train_ds.map(lambda b: b)), count(val_ds)
    steps = steps_for(cfg, n_train)
    print(f"train clips {n_train}, val clips {n_val}, {steps} steps per epoch", flush=True)
    if n_train == 0:
        raise ValueError(f"{cfg.data}: no training clips with mouth frames (check --train-ids / --split-ratio)")
    return train_ds, val_ds, n_train, steps


def init_weights(model, cfg) -> None:
    if cfg.init_from:
        from lipkeras.train.runner import initialise_from

        initialise_from(model, cfg.init_from)


def build_and_compile(cfg: LipReadingConfig, steps_per_epoch: int, strategy=None):
    """The preset's model (``cfg.dropout`` ≥ 0 overrides its dropout), compiled; call it in
    ``model_scope``, with its strategy to synchronise BatchNorm across replicas."""
    from lipkeras.models import build_model
    from lipkeras.models.losses import CTCLoss
    from lipkeras.records.vocab import DEFAULT
    from lipkeras.train.runner import optimizer
    from lipkeras.train.strategy import same_as_one_device

    model = build_model(cfg.model, DEFAULT.size, **({"dropout": cfg.dropout} if cfg.dropout >= 0 else {}))
    model.compile(optimizer=optimizer(cfg, steps_per_epoch), loss=CTCLoss())
    if strategy is not None:
        same_as_one_device(model, strategy)
    return model


@in_precision
def train(cfg: LipReadingConfig) -> dict:
    from lipkeras.train.callbacks import DecodeMetrics
    from lipkeras.train.runner import fit, start_run
    from lipkeras.train.strategy import model_scope

    start_run(cfg)
    train_ds, val_ds, n_train, steps = load_datasets(cfg)
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_and_compile(cfg, steps, strategy)
    print(f"model {cfg.model}: {model.count_params():,} parameters", flush=True)
    init_weights(model, cfg)
    return fit(cfg, model, train_ds.map(as_xy).repeat(), steps, DecodeMetrics(val_ds, cfg.examples, cfg.beam_width),
               monitor="val_wer", extra={"train_clips": n_train}, train_examples=n_train)
