"""What every training stage shares: the run folder, the optimiser, the callbacks, the summary."""

from __future__ import annotations

import functools
import json
import math
import time
import zlib
from pathlib import Path

from lipkeras.records.io import write_json_atomic


def in_precision(train):
    """Run a stage's ``train(cfg)`` under ``cfg.precision``: ``bfloat16`` builds the models under
    Keras' ``mixed_bfloat16`` policy (float32 weights and loss, bfloat16 compute: ~2× faster on
    CPUs with AMX/AVX512-BF16 units, and on TPUs). Saved models carry only their constructor
    arguments, so they load back in float32 wherever they are used."""

    @functools.wraps(train)
    def run(cfg, *args, **kwargs):
        import keras

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16" if cfg.precision == "bfloat16" else "float32")
        try:
            return train(cfg, *args, **kwargs)
        finally:
            keras.config.set_dtype_policy(previous)

    return run


def start_run(cfg) -> Path:
    """Seed, create ``cfg.out``, save and print the config."""
    import keras

    keras.utils.set_random_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.json")
    print(json.dumps(cfg.to_dict(), indent=2), flush=True)
    return out


def resumed_epochs(out) -> int:
    """Epochs a killed run in ``out`` already trained (``BackupAndRestore``'s metadata; 0 if new)."""
    try:
        return int(json.loads((Path(out) / "backup" / "training_metadata.json").read_text()).get("epoch", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def data_seed(cfg) -> int:
    """Seed of the training data's shuffle and augmentation. Seeded random ops in ``tf.data`` restart
    their sequence with the process, so a resumed run seeded as at its start would replay its
    first epochs' augmented samples in the same order (seen on a resumed FER run: training accuracy
    66 → 76 % in two epochs while validation fell 63 → 59 %), and so would a warm restart
    (``--init-from``) of a run with the same seed. Offsetting the seed by the epochs already trained
    and by the starting model's path gives fresh samples and stays reproducible."""
    seed = cfg.seed + resumed_epochs(cfg.out)
    if getattr(cfg, "init_from", None):
        seed += zlib.crc32(str(cfg.init_from).encode()) % 1_000_003
    return seed


def optimizer(cfg, steps_per_epoch: int):
    """AdamW (or, with ``optimizer="sgd"``, SGD with Nesterov momentum 0.9) with linear warm-up then
    cosine decay to ``min_learning_rate``; weight decay is decoupled in both."""
    import keras

    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(cfg.warmup_epochs * steps_per_epoch, total // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate / 10, decay_steps=max(1, total - warmup),
        alpha=cfg.min_learning_rate / cfg.learning_rate, warmup_target=cfg.learning_rate, warmup_steps=warmup)
    if cfg.optimizer == "sgd":
        return sgd(cfg, schedule)
    return keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay, clipnorm=cfg.clipnorm or None)


def sgd(cfg, learning_rate):
    """``--optimizer sgd``: SGD with Nesterov momentum 0.9 and the config's decoupled weight decay."""
    import keras

    return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None,
                                clipnorm=cfg.clipnorm or None)


def initialise_from(model, path: str, check=None) -> None:
    """Start ``model`` from the weights of the ``.keras`` model at ``path`` (``--init-from``):
    ``check(source)`` may refuse it first; a model with ``resize_from`` may start from a narrower or
    a wider one of its design (``EmotionCNN``: widened, or pruned to its strongest channels); any
    other difference of architecture is a one-line error."""
    import keras

    import lipkeras.models  # noqa: F401  (registers the classes)

    source = keras.saving.load_model(path, compile=False)
    if check is not None:
        check(source)
    try:
        model.set_weights(source.get_weights())
    except ValueError as e:
        if not hasattr(model, "resize_from"):
            raise ValueError(f"{path}: not the same architecture as this config ({e})") from None
        try:  # a model of the same design at other widths (EmotionCNN.grow_from / shrink_from)
            how = model.resize_from(source)
        except ValueError as resize_error:
            raise ValueError(f"{path}: {resize_error}") from None
        print(f"{how} from {path} ({source.count_params():,} → {model.count_params():,} parameters)", flush=True)
        return
    print(f"initialised from {path}", flush=True)


def steps_for(cfg, n_train: int) -> int:
    return getattr(cfg, "steps_per_epoch", 0) or math.ceil(n_train / cfg.batch_size)


def checkpoint_callbacks(cfg, monitor: str, mode: str, steps_per_epoch: int = 0) -> list:
    """``best.keras`` (by ``monitor``), ``last.keras``, ``backup/`` (``BackupAndRestore``: a killed run
    resumes where it stopped), ``history.csv``, and the kept epochs of ``--keep-checkpoints``."""
    import keras

    out = Path(cfg.out)
    # --checkpoint-every N: last.keras and the backup every N epochs (an accelerator's 1 s epochs would
    # otherwise spend a tenth of their time writing them)
    every = getattr(cfg, "checkpoint_every", 1)
    freq = "epoch" if every <= 1 or not steps_per_epoch else int(every * steps_per_epoch)
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor=monitor, mode=mode, save_best_only=True),
        keras.callbacks.ModelCheckpoint(str(out / "last.keras"), save_freq=freq),
        keras.callbacks.BackupAndRestore(str(out / "backup"), save_freq=freq),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
    ]
    if getattr(cfg, "keep_checkpoints", 0):
        from lipkeras.train.average import KeepCheckpoints

        callbacks.append(KeepCheckpoints(out / "checkpoints", cfg.keep_checkpoints))
    return callbacks


def strategy_fields(cfg, strategy) -> dict:
    """What a summary says of the distribution: the strategy, its replicas, the batch each computes on."""
    replicas = int(strategy.num_replicas_in_sync)
    return {"strategy": cfg.strategy, "replicas": replicas, "global_batch": cfg.batch_size,
            "per_replica_batch": cfg.batch_size / replicas}


def fit(cfg, model, fit_ds, steps: int, metrics_callback, monitor: str, mode: str = "min",
        samples_per_epoch: int | None = None, extra: dict | None = None, train_examples: int | None = None) -> dict:
    """``model.fit`` with the house callbacks (``checkpoint_callbacks`` + TensorBoard + time budget);
    writes and returns ``summary.json``'s dict."""
    import keras

    from lipkeras.train.callbacks import EpochTimer, TimeBudget
    from lipkeras.train.strategy import distributable, get_strategy

    out = Path(cfg.out)
    strategy = get_strategy(cfg.strategy)
    fit_ds = distributable(fit_ds, strategy, cfg.batch_size, train_examples)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [
        EpochTimer(),
        budget,
        metrics_callback,
        *checkpoint_callbacks(cfg, monitor, mode),
        keras.callbacks.TensorBoard(str(out / "tensorboard"), update_freq="epoch", write_graph=False),
    ]
    t0 = time.perf_counter()
    # the tf.data pipeline shuffles; Keras' default shuffle=True would only warn that it ignores it
    history = model.fit(fit_ds, epochs=cfg.epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=2, shuffle=False)
    seconds = time.perf_counter() - t0
    h = history.history
    epochs_run = len(h.get("loss", []))
    values = h.get(monitor, [])
    summary = {
        "stage": cfg.stage,
        "epochs_run": epochs_run,
        "train_seconds": round(seconds, 1),
        f"best_{monitor}": (min(values) if mode == "min" else max(values)) if values else None,
        "last": {k: float(v[-1]) for k, v in h.items() if v},
        "parameters": int(model.count_params()),
        "seconds_per_sample": round(sum(h.get("epoch_seconds", [0])) / max(1, epochs_run) /
                                    (samples_per_epoch or steps * cfg.batch_size), 4),
        "stopped_by_time_budget": budget.stopped_at is not None,
        **strategy_fields(cfg, strategy),
        **(extra or {}),
    }
    write_json_atomic(out / "summary.json", summary)
    print(json.dumps(summary), flush=True)
    return summary
