"""Training without TensorFlow: ``--stage emotion`` and ``--stage lipnet`` on exported arrays, under any
Keras backend (``python -m lipkeras.train --backend jax --data X.npz``).

The same models, losses, optimiser schedule, checkpoints (``best.keras``, ``last.keras``,
``backup/``), ``history.csv`` and ``summary.json`` as the ``tf.data`` stages; what differs is where
batches come from: a ``keras.utils.PyDataset`` over the arrays of ``lipkeras records export-npz``,
augmented in NumPy/OpenCV by worker threads (``records/augment_arrays.py``) so that the train
step stays one compiled graph (``jit_compile``) on an accelerator. Nothing here imports
TensorFlow or MediaPipe: a machine with JAX (or PyTorch), NumPy, OpenCV and Keras trains, and the
``.keras`` files it writes load under TensorFlow for evaluation and export as usual.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from lipkeras.records.arrays import ArraysError, load_arrays
from lipkeras.records.io import write_json_atomic
from lipkeras.train.runner import in_precision

WORKERS = 6  # augmentation threads: OpenCV and NumPy's large ops release the GIL


def is_arrays(path) -> bool:
    return str(path).endswith((".npz", ".npz.xz"))


def _batches_class():
    import keras

    class Batches(keras.utils.PyDataset):
        """``make(rng, index) → batch`` for shuffled index blocks; a fresh order and fresh random
        draws every epoch, seeded by (seed, epoch, batch): reproducible, also across resumes."""

        def __init__(self, n, batch_size, make, seed, epoch=0, shuffle=True, drop_remainder=True):
            super().__init__(workers=WORKERS, use_multiprocessing=False, max_queue_size=4 * WORKERS)
            self.n, self.batch_size, self.make, self.seed, self.shuffle = n, batch_size, make, seed, shuffle
            self.steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
            self.epoch = epoch
            self._order()

        def _order(self):
            rng = np.random.default_rng((self.seed, self.epoch))
            self.order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)

        def __len__(self):
            return self.steps

        def __getitem__(self, i):
            index = np.sort(self.order[i * self.batch_size:(i + 1) * self.batch_size])
            return self.make(np.random.default_rng((self.seed, self.epoch, i)), index)

        def on_epoch_end(self):
            self.epoch += 1
            self._order()

    return Batches


def _need(arrays, kind, path, batch_size):
    if str(arrays["kind"]) != kind:
        raise ArraysError(f"{path}: holds {arrays['kind']}, this stage trains on {kind}")
    if "val_x" not in arrays:
        raise ArraysError(f"{path}: no validation split (export with --val-ids, or records with split 'val')")
    # whole batches only (one compiled shape): fewer clips than a batch would be an epoch of no steps
    n = len(arrays["train_x"])
    if n < batch_size:
        raise ArraysError(f"{path}: {n} training examples, fewer than one batch (--batch-size {batch_size}); "
                          f"give --batch-size {max(n, 1)} or fewer")


def train(cfg) -> dict:
    if cfg.stage == "emotion":
        return train_emotion(cfg)
    if cfg.stage == "lipnet":
        return train_lipreader(cfg)
    raise ValueError(f"--stage {cfg.stage} trains from records only (arrays: --stage emotion or lipnet)")


@in_precision
def train_emotion(cfg) -> dict:
    """``--stage emotion`` on ``kind=faces`` arrays: the mean-face CNN, cross-entropy with label
    smoothing, mixup, cosine or plateau schedule, best checkpoint by validation accuracy."""
    import keras

    from lipkeras.models.losses import SparseCrossEntropy, label_accuracy
    from lipkeras.records.augment_arrays import augment_faces, mixup
    from lipkeras.train.callbacks import EpochTimer, TimeBudget
    from lipkeras.train.emotion import build_model
    from lipkeras.train.runner import (checkpoint_callbacks, data_seed, initialise_from, optimizer, resumed_epochs,
                                       sgd, start_run)

    arrays = load_arrays(cfg.data)
    _need(arrays, "faces", cfg.data, cfg.batch_size)
    out = start_run(cfg)
    labels = tuple(str(v) for v in arrays["labels"])
    x, y = arrays["train_x"], arrays["train_y"].astype(np.int32)
    vx, vy = arrays["val_x"].astype(np.float32) / 255.0, arrays["val_y"].astype(np.int32)
    if x.shape[1] != cfg.input_size:
        raise ArraysError(f"{cfg.data}: faces are {x.shape[1]} px, --input-size is {cfg.input_size}")
    print(f"emotion data (arrays): {len(x)} training faces, {len(vx)} validation faces, labels {labels}", flush=True)
    k = len(labels)

    def make(rng, index):
        faces = augment_faces(x[index], rng, cfg.rotation, cfg.zoom, cfg.translation, cfg.contrast, cfg.cutout)
        if cfg.mixup:
            return mixup(faces, np.eye(k, dtype=np.float32)[y[index]], cfg.mixup, rng)
        return faces, y[index]

    batches = _batches_class()(len(x), cfg.batch_size, make, data_seed(cfg), epoch=resumed_epochs(out))
    model = build_model(cfg, labels)
    if cfg.mean_face:
        model.get_layer("mean_face").set_mean(x.reshape(len(x), -1).mean(0).reshape(x.shape[1:]) / 255.0)
    if cfg.init_from:
        initialise_from(model, cfg.init_from)
    if cfg.lr_schedule == "cosine":
        opt = optimizer(cfg, len(batches))
    else:
        opt = (sgd(cfg, cfg.learning_rate) if cfg.optimizer == "sgd"
               else keras.optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm or None))
    model.compile(optimizer=opt, loss=SparseCrossEntropy(cfg.label_smoothing),
                  metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")])
    print(f"EmotionCNN: {model.count_params():,} parameters, backend {keras.backend.backend()}", flush=True)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [EpochTimer(), budget, *checkpoint_callbacks(cfg, "val_accuracy", "max", len(batches))]
    if cfg.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", mode="max",
                                                       patience=cfg.early_stopping_patience,
                                                       restore_best_weights=True))
    if cfg.lr_schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=cfg.lr_patience,
                                                           min_lr=cfg.min_learning_rate, verbose=1))
    t0 = time.perf_counter()
    history = model.fit(batches, validation_data=(vx, vy), validation_batch_size=512, epochs=cfg.epochs,
                        callbacks=callbacks, verbose=2)
    h = history.history
    return _summary(out, cfg, model, h, time.perf_counter() - t0, budget, "val_accuracy", "max",
                    {"labels": list(labels), "train_faces": len(x), "val_faces": len(vx), "data": str(cfg.data)})


@in_precision
def train_lipreader(cfg) -> dict:
    """``--stage lipnet`` on ``kind=mouths`` arrays: CTC, the preset's model, greedy validation
    WER/CER each epoch, best checkpoint by validation WER. Frames exported at 1/``scale`` of the
    records' size are cropped to ``crop_size / scale``: the crop the model would otherwise resize."""
    import keras

    from lipkeras.models import build_model
    from lipkeras.models.losses import CTCLoss
    from lipkeras.records.augment_arrays import augment_mouths, center_mouths, padded_frames
    from lipkeras.records.vocab import DEFAULT
    from lipkeras.train.callbacks import DecodeMetrics, EpochTimer, TimeBudget
    from lipkeras.train.runner import (checkpoint_callbacks, data_seed, initialise_from, optimizer, resumed_epochs,
                                       start_run)

    arrays = load_arrays(cfg.data)
    _need(arrays, "mouths", cfg.data, cfg.batch_size)
    if str(arrays["vocab"]) != DEFAULT.chars:
        raise ArraysError(f"{cfg.data}: exported with another vocabulary")
    out = start_run(cfg)
    x, lengths, y = arrays["train_x"], arrays["train_lengths"], arrays["train_y"].astype(np.int32)
    crop = cfg.crop_size // int(arrays["scale"])
    frames = padded_frames(x.shape[1], cfg.speed_perturbation)
    if cfg.max_frames:
        frames = min(frames, cfg.max_frames)
    print(f"lip-reading data (arrays): {len(x)} training clips, {len(arrays['val_x'])} validation clips, "
          f"frames {x.shape[2]}² → crop {crop}², padded to {frames} frames", flush=True)

    def make(rng, index):
        clips, n = augment_mouths(x[index], lengths[index], rng, crop, frames, cfg.flip, cfg.time_masking,
                                  cfg.speed_perturbation)
        return {"frames": clips, "frame_lengths": n}, y[index]

    batches = _batches_class()(len(x), cfg.batch_size, make, data_seed(cfg), epoch=resumed_epochs(out))
    vx = center_mouths(arrays["val_x"], crop)
    val = [{"frames": vx[i:i + cfg.batch_size], "frame_lengths": arrays["val_lengths"][i:i + cfg.batch_size],
            "transcript": arrays["val_text"][i:i + cfg.batch_size], "clip_id": arrays["val_ids"][i:i + cfg.batch_size]}
           for i in range(0, len(vx), cfg.batch_size)]
    model = build_model(cfg.model, DEFAULT.size)
    model.compile(optimizer=optimizer(cfg, len(batches)), loss=CTCLoss())
    print(f"model {cfg.model}: {model.count_params():,} parameters, backend {keras.backend.backend()}", flush=True)
    if cfg.init_from:
        initialise_from(model, cfg.init_from)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [EpochTimer(), budget, DecodeMetrics(val, cfg.examples, cfg.beam_width),
                 *checkpoint_callbacks(cfg, "val_wer", "min", len(batches))]
    t0 = time.perf_counter()
    history = model.fit(batches, epochs=cfg.epochs, callbacks=callbacks, verbose=2)
    return _summary(out, cfg, model, history.history, time.perf_counter() - t0, budget, "val_wer", "min",
                    {"train_clips": len(x), "val_clips": len(vx), "data": str(cfg.data)})


def _summary(out: Path, cfg, model, h: dict, seconds: float, budget, monitor: str, mode: str, extra: dict) -> dict:
    import keras

    values = h.get(monitor, [])
    summary = {"stage": cfg.stage, "backend": keras.backend.backend(), "epochs_run": len(h.get("loss", [])),
               "train_seconds": round(seconds, 1),
               f"best_{monitor}": (min(values) if mode == "min" else max(values)) if values else None,
               "seconds_per_epoch": round(float(np.median(h.get("epoch_seconds", [0]))), 3),
               "last": {k: float(v[-1]) for k, v in h.items() if v},
               "parameters": int(model.count_params()), "stopped_by_time_budget": budget.stopped_at is not None,
               **extra}
    write_json_atomic(out / "summary.json", summary)
    print(json.dumps(summary), flush=True)
    return summary
