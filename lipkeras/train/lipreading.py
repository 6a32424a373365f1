"""``--stage lipnet``: train a CTC lip reader (LipNet presets or FastLipReader) on mouth records."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from lipkeras.train.config import LipReadingConfig


def datasets(cfg: LipReadingConfig):
    from lipkeras.records import mouth_dataset

    common = dict(normalization=None, crop_size=cfg.crop_size, max_frames=cfg.max_frames or None)
    train = mouth_dataset(cfg.data, batch_size=cfg.batch_size, training=True, flip=cfg.flip,
                          time_masking=cfg.time_masking, clip_ids=cfg.train_ids, split=cfg.train_split,
                          cache=cfg.cache, seed=cfg.seed, **common)
    val = mouth_dataset(cfg.data, batch_size=cfg.batch_size, clip_ids=cfg.val_ids, split=cfg.val_split,
                        cache=cfg.cache, **common)
    return train, val


def count(ds) -> int:
    return sum(int(b["frames"].shape[0]) for b in ds)


def as_xy(batch):
    return {"frames": batch["frames"], "frame_lengths": batch["frame_lengths"]}, batch["labels"]


def build_and_compile(cfg: LipReadingConfig, steps_per_epoch: int):
    import keras

    from lipkeras.models import build_model
    from lipkeras.models.losses import CTCLoss
    from lipkeras.records.vocab import DEFAULT

    model = build_model(cfg.model, DEFAULT.size)
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(cfg.warmup_epochs * steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10, decay_steps=max(1, total - warmup),
        alpha=cfg.min_learning_rate / cfg.learning_rate, warmup_target=cfg.learning_rate, warmup_steps=warmup)
    opt = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm)
    model.compile(optimizer=opt, loss=CTCLoss())
    return model


def train(cfg: LipReadingConfig) -> dict:
    import keras

    from lipkeras.train.callbacks import DecodeMetrics, EpochTimer, TimeBudget
    from lipkeras.train.strategy import get_strategy

    keras.utils.set_random_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.json")
    print(json.dumps(cfg.to_dict(), indent=2), flush=True)

    train_ds, val_ds = datasets(cfg)
    n_train = count(train_ds.map(lambda b: b))  # one pass also fills the cache
    n_val = count(val_ds)
    steps = cfg.steps_per_epoch or math.ceil(n_train / cfg.batch_size)
    print(f"train clips {n_train}, val clips {n_val}, {steps} steps per epoch", flush=True)
    if n_train == 0:
        raise ValueError(f"{cfg.data}: no training clips (check --train-ids / --train-split)")

    strategy = get_strategy(cfg.strategy)
    with strategy.scope():
        model = build_and_compile(cfg, steps)
    print(f"model {cfg.model}: {model.count_params():,} parameters", flush=True)
    if cfg.init_from:
        import lipkeras.models  # noqa: F401

        model.set_weights(keras.saving.load_model(cfg.init_from, compile=False).get_weights())
        print(f"initialised from {cfg.init_from}", flush=True)

    fit_ds = train_ds.map(as_xy).repeat()
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [
        EpochTimer(),
        budget,
        DecodeMetrics(val_ds, cfg.examples, cfg.beam_width),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_wer", mode="min", save_best_only=True),
        keras.callbacks.ModelCheckpoint(str(out / "last.keras")),
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch", write_graph=False),
    ]
    t0 = time.perf_counter()
    history = model.fit(fit_ds, epochs=cfg.epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - t0
    h = history.history
    summary = {
        "epochs_run": len(h.get("loss", [])),
        "train_seconds": round(seconds, 1),
        "best_val_wer": float(min(h["val_wer"])) if h.get("val_wer") else None,
        "last_val_wer": float(h["val_wer"][-1]) if h.get("val_wer") else None,
        "last_val_cer": float(h["val_cer"][-1]) if h.get("val_cer") else None,
        "parameters": int(model.count_params()),
        "train_clips": n_train,
        "seconds_per_sample": round(sum(h.get("epoch_seconds", [0])) / max(1, len(h.get("loss", []))) /
                                    (steps * cfg.batch_size), 4),
        "stopped_by_time_budget": budget.stopped_at is not None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)
    return summary
