"""``--stage emotion``: train the design's mean-face CNN on face images.

Augmentation runs in ``tf.data`` on training batches only — horizontal flip, keras-cv
``RandomCutout`` (as the design), small rotations, zoom, shifts, contrast and optional mixup — never
inside the model:
keras-cv 0.9's cutout ignores ``training`` and Keras' random layers would be baked into exports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lipkeras.records.io import write_json_atomic
from lipkeras.train.config import EmotionConfig, int_list
from lipkeras.train.runner import in_precision


def make_augment(cfg: EmotionConfig, seed: int | None = None):
    """A function on a batch of faces ``[B, S, S, C]`` in [0, 1] (used in ``tf.data`` only)."""
    import keras
    import tensorflow as tf

    seed = cfg.seed if seed is None else seed

    layers = []
    f32 = dict(dtype="float32")  # data, not model compute: stays float32 under --precision bfloat16
    if cfg.rotation:
        layers.append(keras.layers.RandomRotation(cfg.rotation, fill_mode="nearest", seed=seed, **f32))
    if cfg.zoom:
        layers.append(keras.layers.RandomZoom(cfg.zoom, fill_mode="nearest", seed=seed, **f32))
    if cfg.translation:
        layers.append(keras.layers.RandomTranslation(cfg.translation, cfg.translation, fill_mode="nearest",
                                                     seed=seed, **f32))
    if cfg.contrast:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=(0, 1), seed=seed, **f32))
    if cfg.cutout:
        import keras_cv

        layers.append(keras_cv.layers.RandomCutout(cfg.cutout, cfg.cutout, seed=seed, **f32))

    def augment(x):
        x = tf.image.random_flip_left_right(x, seed=seed)
        for layer in layers:
            x = layer(x, training=True)
        return tf.clip_by_value(x, 0.0, 1.0)

    return augment


def make_mixup(alpha: float, num_classes: int, seed: int | None = None):
    """mixup (Zhang et al., 2018) on a training batch ``(faces [B, S, S, C], ids [B] or targets [B, K])``: each face
    becomes ``λ·face + (1-λ)·other`` with another face of the batch and ``λ ~ Beta(α, α)`` drawn per
    face, and its target the same blend of the two one-hot labels ``[B, K]``. In ``tf.data`` only,
    like the augmentation; validation batches keep their class ids."""
    import tensorflow as tf

    def mix(x, y):
        b = tf.shape(x)[0]
        g1 = tf.random.gamma([b], alpha, seed=seed)  # Beta(α, α) = G1 / (G1 + G2)
        g2 = tf.random.gamma([b], alpha, seed=None if seed is None else seed + 1)
        lam = g1 / tf.maximum(g1 + g2, 1e-12)
        other = tf.random.shuffle(tf.range(b), seed=seed)
        onehot = y if y.shape.rank == 2 else tf.one_hot(tf.cast(y, tf.int32), num_classes)  # soft targets as they are
        xl = tf.reshape(tf.cast(lam, x.dtype), [-1, 1, 1, 1])
        x = xl * x + (1.0 - xl) * tf.gather(x, other)
        t = lam[:, None] * onehot + (1.0 - lam[:, None]) * tf.gather(onehot, other)
        return x, t

    return mix


def load_split(cfg: EmotionConfig):
    """``(labels, (train paths, ids), (val paths, ids), skipped, dropped)`` with labels in canonical
    order; ``dropped`` counts the validation faces left out as exact copies of training faces."""
    from lipkeras.preprocess.labels import EMOTIONS
    from lipkeras.records.image_folder import image_items, leaked, stratified_split

    paths, names, skipped = image_items(cfg.data)
    if not paths:
        raise ValueError(f"{cfg.data}: no face images under <label>/ folders")
    if cfg.val_data:
        val_paths, val_names, more = image_items(cfg.val_data)
        skipped += more
        train_paths, train_names = paths, names
    else:
        tr, va = stratified_split(names, cfg.val_fraction, cfg.seed)
        train_paths, train_names = [paths[i] for i in tr], [names[i] for i in tr]
        val_paths, val_names = [paths[i] for i in va], [names[i] for i in va]
    if cfg.max_train_faces and len(train_paths) > cfg.max_train_faces:  # quick experiments: a stratified subset
        _, keep = stratified_split(train_names, cfg.max_train_faces / len(train_paths), cfg.seed + 1)
        train_paths, train_names = [train_paths[i] for i in keep], [train_names[i] for i in keep]
    labels = tuple(e for e in EMOTIONS if e in set(train_names))
    index = {n: i for i, n in enumerate(labels)}
    keep = [i for i, n in enumerate(val_names) if n in index]
    copies = set()
    if cfg.drop_leaked_val:  # an exact copy of a training face is not held out: scoring it measures memory
        copies = set(leaked(train_paths, [val_paths[i] for i in keep]).tolist())
        keep = [i for j, i in enumerate(keep) if j not in copies]
    return (labels, (train_paths, [index[n] for n in train_names]),
            ([val_paths[i] for i in keep], [index[val_names[i]] for i in keep]), skipped, len(copies))


def teacher_paths(cfg: EmotionConfig) -> list[str]:
    """The models ``cfg.distill_from`` names: one path, or several separated by commas (an ensemble)."""
    return [p.strip() for p in (cfg.distill_from or "").split(",") if p.strip()]


def teacher_model(cfg: EmotionConfig, labels):
    """``cfg.distill_from`` ready to predict (BatchNorm folded, ``distill_views`` views, ``cfg.precision``);
    its labels must be the data's. Several teachers (comma-separated) become one model averaging their
    probabilities: an ensemble teaches better than any of its members (Hinton et al., 2015)."""
    import keras
    from keras import ops

    import lipkeras.models  # noqa: F401  (registers the classes)
    from lipkeras.emotion import for_inference

    members = []
    for path in teacher_paths(cfg):
        teacher = keras.saving.load_model(path, compile=False)
        if tuple(getattr(teacher, "labels", ())) != tuple(labels):
            raise ValueError(f"{path}: teacher labels {tuple(getattr(teacher, 'labels', ()))} differ "
                             f"from the data's {tuple(labels)}")
        members.append(for_inference(teacher, cfg.precision, cfg.distill_views))
    if len(members) == 1:
        return members[0]
    faces = keras.Input(tuple(members[0].inputs[0].shape[1:]), name="faces")
    probs = [ops.cast(m(faces), "float32") for m in members]
    return keras.Model(faces, ops.mean(ops.stack(probs, axis=0), axis=0), name="teacher_ensemble")


def blend_targets(cfg: EmotionConfig, probs, onehot):
    """``distill_weight`` of the teacher's probabilities softened by ``distill_temperature``, the
    rest the one-hot label (NumPy arrays or tensors alike)."""
    from keras import ops

    if cfg.distill_temperature != 1.0:
        probs = ops.power(ops.maximum(probs, 1e-12), 1.0 / cfg.distill_temperature)
        probs = probs / ops.sum(probs, axis=1, keepdims=True)
    return cfg.distill_weight * probs + (1.0 - cfg.distill_weight) * onehot


def online_targets(cfg: EmotionConfig, labels):
    """A ``tf.data`` map on augmented training batches ``(faces, ids)`` → ``(faces, targets [B, K])``:
    the teacher scores the very faces the student is about to see (consistent teaching, Beyer et
    al., 2022), so its targets carry what it makes of new views rather than what it remembers of
    the training faces (v3 agrees with 86 % of their labels)."""
    import tensorflow as tf

    model = teacher_model(cfg, labels)

    def targets(faces, ids):
        probs = tf.cast(model(faces, training=False), tf.float32)
        onehot = tf.one_hot(tf.cast(ids, tf.int32), len(labels), dtype=tf.float32)
        return faces, blend_targets(cfg, probs, onehot)

    return targets


def distilled_targets(cfg: EmotionConfig, labels, paths, ids, out: Path) -> np.ndarray:
    """Training targets ``[N, K]`` for knowledge distillation (Hinton et al., 2015): the teacher
    ``cfg.distill_from``'s probabilities for each training face (un-augmented, averaged over
    ``distill_views`` test-time views, softened by ``distill_temperature``) blended with the one-hot
    label, ``distill_weight`` for the teacher. The probabilities are computed once and kept in
    ``out/teacher_probs.npz`` (a resumed run reuses them)."""
    from lipkeras.records.image_folder import image_folder_dataset

    cache = out / "teacher_probs.npz"
    key = np.array([",".join(str(Path(t).resolve()) for t in teacher_paths(cfg)), str(cfg.distill_views),
                    str(len(paths)), cfg.precision])
    probs = None
    if cache.is_file():
        with np.load(cache) as f:
            if np.array_equal(f["key"], key) and np.array_equal(f["ids"], np.asarray(ids)):
                probs = f["probs"]
    if probs is None:
        model = teacher_model(cfg, labels)
        t0 = time.perf_counter()
        faces = image_folder_dataset(paths, ids, cfg.input_size, batch_size=256)
        probs = np.concatenate([np.asarray(model.predict_on_batch(x), np.float32) for x, _ in faces])
        tmp = out / ".teacher_probs.tmp.npz"
        np.savez(tmp, key=key, ids=np.asarray(ids), probs=probs)
        tmp.replace(cache)
        print(f"teacher {cfg.distill_from} ({cfg.distill_views} views): {len(paths)} training faces in "
              f"{time.perf_counter() - t0:.0f} s, agrees with {np.mean(probs.argmax(1) == np.asarray(ids)):.2%} "
              f"of their labels", flush=True)
    onehot = np.eye(len(labels), dtype=np.float32)[np.asarray(ids)]
    return np.asarray(blend_targets(cfg, probs, onehot), np.float32)


def record_splits(pattern) -> dict:
    """``{split: Counter(label)}`` of face records, reading only those two fields."""
    from collections import Counter

    import tensorflow as tf

    from lipkeras.records.reader import records

    spec = {k: tf.io.FixedLenFeature([], tf.string, default_value="") for k in ("label", "split")}
    out: dict = {}
    for r in records(pattern).map(lambda x: tf.io.parse_single_example(x, spec)):
        out.setdefault(r["split"].numpy().decode(), Counter())[r["label"].numpy().decode()] += 1
    return out


def record_datasets(cfg: EmotionConfig, seed: int):
    """Face records made by ``preprocess`` from labelled videos (e.g. RAVDESS, actor splits):
    ``(labels, plain, train, val, counts)``, ``cfg.frames_per_clip`` frames sampled per clip
    (random positions when training, evenly spaced otherwise) so every video weighs the same;
    ``seed`` (``runner.data_seed``) seeds the training faces' sampling and augmentation."""
    import tensorflow as tf

    from lipkeras.preprocess.labels import EMOTIONS
    from lipkeras.records import face_dataset

    splits = record_splits(cfg.data)
    if not splits.get("train") or not splits.get(cfg.val_split):
        raise ValueError(f"{cfg.data}: face records need a 'train' and a '{cfg.val_split}' split, found "
                         f"{sorted(splits)} (preprocess with --val-speakers/--test-speakers; RAVDESS: actors "
                         f"19-20 val, 21-24 test by default)")
    labels = tuple(e for e in EMOTIONS if splits["train"].get(e))
    if not labels:
        raise ValueError(f"{cfg.data}: no labelled face records in the train split")

    def faces(split, training, batch_size, augment=None):
        ds = face_dataset(cfg.data, batch_size=batch_size, training=training, mode="frame", labels=labels,
                          frames_per_clip=cfg.frames_per_clip or None, split=split, seed=seed, flip=False)

        def prepare(r):
            x = r["image"]
            x = tf.cond(tf.shape(x)[-1] == 3, lambda: tf.image.rgb_to_grayscale(x), lambda: x[..., :1])
            # area resize: what EmotionReader (cv2.INTER_AREA) does to video faces at inference
            x = tf.image.resize(x, (cfg.input_size, cfg.input_size), method="area")
            return (augment(x) if augment else x), r["label"]
        return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)

    counts = {k: sum(v.values()) for k, v in splits.items()}
    return (labels, faces("train", False, 256), faces("train", True, cfg.batch_size, make_augment(cfg, seed)),
            faces(cfg.val_split, False, 256), counts)


KERNELS = (5, 5, 3, 3, 3, 3)


def build_model(cfg: EmotionConfig, labels, **overrides):
    from lipkeras.models import EmotionCNN

    filters = int_list(cfg.filters)
    kernels = int_list(cfg.kernel_sizes) or KERNELS[:len(filters)]
    kwargs = dict(labels=labels, input_size=cfg.input_size, convs_per_block=cfg.convs_per_block,
                  filters=filters, kernel_sizes=kernels, dense_units=cfg.dense_units,
                  dropout=cfg.dropout, dense_dropout=cfg.dense_dropout, mean_face=cfg.mean_face)
    kwargs.update(overrides)
    return EmotionCNN(**kwargs, name="emotion_cnn")


def mean_face(dataset) -> np.ndarray:
    """Pixel-wise mean of the training faces (un-augmented), saved inside the model."""
    from lipkeras.layers import MeanFaceSubtraction

    return MeanFaceSubtraction().adapt(np.asarray(x) for x, _ in dataset)


def save_curves(history_csv: Path, png: Path) -> None:
    """Accuracy and loss per epoch (training and validation) as one PNG."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(history_csv.open()))
    if not rows:
        return
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("accuracy", "loss")):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in rows[0]:
                ax.plot(epochs, [float(r[prefix + key]) for r in rows], style, label=(prefix + key))
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png)


TUNED = ("filters", "dropout", "dense_units", "learning_rate", "mean_face")


def tuned_config(cfg: EmotionConfig, folder: str | Path) -> EmotionConfig:
    """``cfg`` with the best hyperparameters of a tuning run (``best_hyperparameters.json``)."""
    import dataclasses

    best_file = Path(folder) / "best_hyperparameters.json"
    if not best_file.is_file():
        raise FileNotFoundError(f"{folder}: no best_hyperparameters.json (run --stage emotion --tune N first)")
    best = json.loads(best_file.read_text())
    return dataclasses.replace(cfg, **{k: best[k] for k in TUNED if k in best}, from_tuner=None)


def tune(cfg: EmotionConfig, data) -> dict:
    """keras-tuner random search over filters, dropout, dense units, learning rate and the mean face."""
    import keras
    import keras_tuner as kt

    from lipkeras.models.losses import SparseCrossEntropy, label_accuracy
    from lipkeras.train.strategy import get_strategy

    out = Path(cfg.out)
    labels, train_ds, val_ds, mean = data

    def build(hp):
        base = hp.Choice("filters_base", [16, 32, 48])
        trial = dict(filters=",".join(str(base * m) for m in (1, 2, 4, 8)),
                     dropout=hp.Float("dropout", 0.2, 0.5, step=0.1),
                     dense_units=hp.Choice("dense_units", [64, 128, 256]),
                     learning_rate=hp.Float("learning_rate", 1e-4, 3e-3, sampling="log"),
                     mean_face=hp.Boolean("mean_face", default=True))
        import dataclasses

        tcfg = dataclasses.replace(cfg, **trial)
        model = build_model(tcfg, labels)
        if tcfg.mean_face:
            model.get_layer("mean_face").set_mean(mean)
        model.compile(optimizer=keras.optimizers.Adam(tcfg.learning_rate), loss=SparseCrossEntropy(cfg.label_smoothing),
                      metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")])
        return model

    tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=cfg.tune, seed=cfg.seed,
                            directory=str(out), project_name="tuner", overwrite=False,
                            distribution_strategy=None if cfg.strategy == "default" else get_strategy(cfg.strategy))
    t0 = time.perf_counter()
    tuner.search(train_ds, validation_data=val_ds, epochs=cfg.tune_epochs, verbose=2,
                 steps_per_epoch=cfg.steps_per_epoch or None,
                 callbacks=[keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=3)])
    hp = tuner.get_best_hyperparameters(1)[0].values
    best = {"filters": ",".join(str(hp["filters_base"] * m) for m in (1, 2, 4, 8)), "dropout": hp["dropout"],
            "dense_units": hp["dense_units"], "learning_rate": hp["learning_rate"], "mean_face": hp["mean_face"]}
    trials = [{"trial": t.trial_id, "hyperparameters": t.hyperparameters.values, "val_accuracy": t.score}
              for t in tuner.oracle.trials.values()]
    write_json_atomic(out / "best_hyperparameters.json", best)
    summary = {"stage": "emotion", "tuner_trials": len(trials), "search_seconds": round(time.perf_counter() - t0, 1),
               "best_hyperparameters": best, "best_val_accuracy": max((t["val_accuracy"] or 0) for t in trials),
               "trials": trials}
    write_json_atomic(out / "tuner_summary.json", summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "trials"}), flush=True)
    return summary


@in_precision
def train(cfg: EmotionConfig) -> dict:
    import keras
    import tensorflow as tf

    from lipkeras.models.losses import SparseCrossEntropy, label_accuracy
    from lipkeras.records.image_folder import image_folder_dataset
    from lipkeras.train.callbacks import EpochTimer, TimeBudget
    from lipkeras.train.runner import (
        checkpoint_callbacks,
        data_seed,
        initialise_from,
        optimizer,
        sgd,
        start_run,
        strategy_fields,
    )
    from lipkeras.train.strategy import distributable, model_scope, same_as_one_device
    from lipkeras.train.text_corpus import is_records

    if cfg.from_tuner:
        cfg = tuned_config(cfg, cfg.from_tuner)
    out = start_run(cfg)
    seed = data_seed(cfg)  # a resumed run gets fresh augmented samples
    if is_records(cfg.data):
        if cfg.distill_from:
            raise ValueError(f"{cfg.data}: --distill-from covers image folders, not face records")
        labels, plain, train_ds, val_ds, counts = record_datasets(cfg, seed)
        skipped = []
        clips = {"train_clips": counts["train"], "val_clips": counts[cfg.val_split]}
        # faces per epoch: frames_per_clip sampled per clip (0: every frame, a count unknown before reading)
        train_faces = counts["train"] * (cfg.frames_per_clip or 1)
        val_faces = counts[cfg.val_split] * cfg.frames_per_clip if cfg.frames_per_clip else None
        print(f"emotion data: face records {counts} (clips per split), {cfg.frames_per_clip} frames per clip, "
              f"labels {labels}", flush=True)
        write_json_atomic(out / "split.json", {"labels": labels, "records": str(cfg.data),
                                               "val_split": cfg.val_split, "clips": counts})
    else:
        labels, (tr_paths, tr_ids), (va_paths, va_ids), skipped, dropped = load_split(cfg)
        print(f"emotion data: {len(tr_paths)} training faces, {len(va_paths)} validation faces "
              f"({dropped} more left out: exact copies of training faces), labels {labels}, "
              f"{len(skipped)} skipped", flush=True)
        for skip in skipped:
            print(f"skipped {skip.path}: {skip.reason}", flush=True)
        write_json_atomic(out / "split.json", {"labels": labels, "val": sorted(va_paths),
                                               "skipped": [s.to_dict() for s in skipped]})
        train_faces, val_faces, clips = len(tr_paths), len(va_paths), {"val_copies_dropped": dropped}
        plain = image_folder_dataset(tr_paths, tr_ids, cfg.input_size, batch_size=256, cache=False)
        offline = cfg.distill_from and not cfg.distill_online
        targets = distilled_targets(cfg, labels, tr_paths, tr_ids, out) if offline else tr_ids
        train_ds = image_folder_dataset(tr_paths, targets, cfg.input_size, batch_size=cfg.batch_size, training=True,
                                        seed=seed, cache=cfg.cache, augment=make_augment(cfg, seed))
        if cfg.distill_from and cfg.distill_online:  # one batch at a time, overlapping the student's step
            train_ds = train_ds.map(online_targets(cfg, labels), num_parallel_calls=1).prefetch(1)
        val_ds = image_folder_dataset(va_paths, va_ids, cfg.input_size, batch_size=256, cache=cfg.cache)
    if cfg.mixup:
        train_ds = train_ds.map(make_mixup(cfg.mixup, len(labels), seed), num_parallel_calls=tf.data.AUTOTUNE)
    if cfg.steps_per_epoch:
        train_ds = train_ds.repeat()
    mean = mean_face(plain)
    if cfg.tune:
        return tune(cfg, (labels, train_ds, val_ds, mean))
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_model(cfg, labels)
        if cfg.mean_face:
            model.get_layer("mean_face").set_mean(mean)
        if cfg.init_from:  # continue from a trained model (e.g. with other dropout rates): same labels
            def same_labels(source):
                if tuple(getattr(source, "labels", ())) != tuple(labels):
                    raise ValueError(f"{cfg.init_from}: labels {tuple(getattr(source, 'labels', ()))} differ "
                                     f"from the data's {tuple(labels)}")
            initialise_from(model, cfg.init_from, check=same_labels)
        if cfg.lr_schedule == "cosine":
            opt = optimizer(cfg, cfg.steps_per_epoch or -(-train_faces // cfg.batch_size))
        else:
            opt = (sgd(cfg, cfg.learning_rate) if cfg.optimizer == "sgd"
                   else keras.optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm or None))
        model.compile(optimizer=opt, loss=SparseCrossEntropy(cfg.label_smoothing),
                      metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")])
        same_as_one_device(model, strategy)
    print(f"EmotionCNN: {model.count_params():,} parameters", flush=True)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [
        EpochTimer(), budget,
        keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=cfg.early_stopping_patience,
                                      restore_best_weights=True),
        *checkpoint_callbacks(cfg, "val_accuracy", "max"),
    ]
    if cfg.lr_schedule == "plateau":  # the cosine schedule owns the rate otherwise
        callbacks.append(keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=cfg.lr_patience,
                                                           min_lr=cfg.min_learning_rate, verbose=1))
    t0 = time.perf_counter()
    # the tf.data pipeline shuffles; Keras' default shuffle=True would only warn that it ignores it
    history = model.fit(distributable(train_ds, strategy, cfg.batch_size, train_faces), validation_data=distributable(val_ds, strategy),
                        epochs=cfg.epochs, callbacks=callbacks, verbose=2, steps_per_epoch=cfg.steps_per_epoch or None,
                        shuffle=False)
    seconds = time.perf_counter() - t0
    save_curves(out / "history.csv", out / "curves.png")
    h = history.history
    summary = {"stage": "emotion", "epochs_run": len(h.get("loss", [])), "train_seconds": round(seconds, 1),
               "best_val_accuracy": max(h["val_accuracy"]) if h.get("val_accuracy") else None,
               "seconds_per_epoch": round(float(np.mean(h.get("epoch_seconds", [0]))), 2),
               # convert_to_numpy: under a strategy the rate is a MirroredVariable, which float() refuses
               "final_learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
               "parameters": int(model.count_params()), "labels": list(labels), "train_faces": train_faces,
               "val_faces": val_faces, **clips, "skipped": len(skipped),
               "stopped_by_time_budget": budget.stopped_at is not None, **strategy_fields(cfg, strategy)}
    write_json_atomic(out / "summary.json", summary)
    print(json.dumps(summary), flush=True)
    return summary
