"""``--stage audio-emotion``: train ``SpeechEmotionCRNN`` on the audio of records.

Augmentation: a random ``max_seconds`` window and a random gain per training clip (``tf.data``),
SpecAugment inside the model (active only in training). The best checkpoint by validation
accuracy is then scored on the split's test clips (accuracy, macro-F1, confusion matrix, bootstrap
intervals) into ``test_metrics.json`` and the summary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lipkeras.records.io import write_json_atomic
from lipkeras.train.config import AudioEmotionConfig, int_list
from lipkeras.train.runner import in_precision


def record_labels(pattern, min_samples: int = 400) -> dict[str, str]:
    """``{clip_id: label}`` of the records holding at least ``min_samples`` of audio (what
    ``audio_dataset`` reads), without decoding the audio."""
    import tensorflow as tf

    from lipkeras.records.reader import records

    spec = {k: tf.io.FixedLenFeature([], tf.string, default_value="") for k in ("clip_id", "label", "audio/pcm")}

    def slim(serialized):
        r = tf.io.parse_single_example(serialized, spec)
        return r["clip_id"], r["label"], tf.strings.length(r["audio/pcm"]) // 2  # int16 samples

    ds = records(pattern).map(slim, num_parallel_calls=tf.data.AUTOTUNE)
    return {c.decode(): label.decode() for c, label, n in ds.as_numpy_iterator() if n >= min_samples}


def choose_labels(cfg: AudioEmotionConfig, train_labels) -> tuple[str, ...]:
    """``cfg.labels`` (canonicalised), or the canonical labels present among the training clips."""
    from lipkeras.preprocess.labels import EMOTIONS, canonical_emotion

    if cfg.labels:
        return tuple(canonical_emotion(x.strip()) for x in cfg.labels.split(",") if x.strip())
    present = set(train_labels)
    labels = tuple(e for e in EMOTIONS if e in present)
    if not labels:
        raise ValueError(f"{cfg.data}: no labelled clips among the training clips")
    return labels


def build_model(cfg: AudioEmotionConfig, labels):
    from lipkeras.models import SpeechEmotionCRNN

    return SpeechEmotionCRNN(labels=labels, sample_rate=cfg.sample_rate, n_mels=cfg.n_mels,
                             filters=int_list(cfg.filters), time_pools=int_list(cfg.time_pools),
                             freq_pools=int_list(cfg.freq_pools), conv_dropout=cfg.conv_dropout,
                             lstm_units=cfg.lstm_units, embedding_units=cfg.embedding_units, dropout=cfg.dropout,
                             freq_masks=cfg.freq_masks, freq_mask_width=cfg.freq_mask_width,
                             time_masks=cfg.time_masks, time_mask_width=cfg.time_mask_width,
                             name="speech_emotion_crnn")


def predict_clips(model, dataset) -> tuple[np.ndarray, np.ndarray, list[str], float]:
    """``(label ids, probabilities [N, K], clip ids, seconds)`` of ``model`` on an ``audio_dataset``."""
    ids, probs, clips = [], [], []
    t0 = time.perf_counter()
    for batch in dataset:
        probs.append(np.asarray(model.predict_on_batch({"waveform": batch["waveform"], "lengths": batch["lengths"]})))
        ids.append(batch["label"].numpy())
        clips += [c.decode() for c in batch["clip_id"].numpy()]
    seconds = time.perf_counter() - t0
    if not probs:
        return np.zeros((0,), np.int64), np.zeros((0, 0), np.float32), [], seconds
    return np.concatenate(ids), np.concatenate(probs).astype(np.float32), clips, seconds


@in_precision
def train(cfg: AudioEmotionConfig) -> dict:
    import keras

    from lipkeras.metrics import classification_metrics
    from lipkeras.models.losses import SparseCrossEntropy, label_accuracy
    from lipkeras.records.audio import audio_dataset, model_inputs
    from lipkeras.train.callbacks import EpochTimer, TimeBudget
    from lipkeras.train.clip_splits import for_run
    from lipkeras.train.emotion import save_curves
    from lipkeras.train.runner import (
        checkpoint_callbacks,
        data_seed,
        initialise_from,
        optimizer,
        start_run,
        strategy_fields,
    )
    from lipkeras.train.strategy import distributable, model_scope, same_as_one_device

    out = start_run(cfg)
    seed = data_seed(cfg)  # a resumed run draws fresh windows and gains
    splits = for_run(cfg.data, cfg, out)
    clip_labels = record_labels(cfg.data)
    labels = choose_labels(cfg, [clip_labels.get(c, "") for c in splits.ids["train"]])
    counts = {s: sum(clip_labels.get(c, "") in labels for c in splits.ids[s]) for s in ("train", "val", "test")}
    if not counts["train"] or not counts["val"]:
        raise ValueError(f"{cfg.data}: need labelled training and validation clips, found {counts} "
                         f"(labels {labels})")
    print(f"audio emotion data: clips with labels {labels}: {counts}", flush=True)
    common = dict(labels=labels, max_seconds=cfg.max_seconds, sample_rate=cfg.sample_rate, cache=cfg.cache)
    train_ds = audio_dataset(cfg.data, batch_size=cfg.batch_size, training=True, repeat=True, gain_db=cfg.gain_db,
                             clip_ids=splits.ids["train"], seed=seed, **common)
    val_ds = audio_dataset(cfg.data, batch_size=64, clip_ids=splits.ids["val"], **common)
    steps = cfg.steps_per_epoch or -(-counts["train"] // cfg.batch_size)
    write_json_atomic(out / "split.json", {"labels": labels, "records": str(cfg.data), "clips": counts})
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:
        model = build_model(cfg, labels)
        if cfg.init_from:
            def same_labels(source):
                if tuple(getattr(source, "labels", ())) != tuple(labels):
                    raise ValueError(f"{cfg.init_from}: labels {tuple(getattr(source, 'labels', ()))} differ "
                                     f"from the data's {tuple(labels)}")
            initialise_from(model, cfg.init_from, check=same_labels)
        model.compile(optimizer=optimizer(cfg, steps), loss=SparseCrossEntropy(cfg.label_smoothing),
                      metrics=[keras.metrics.MeanMetricWrapper(label_accuracy, name="accuracy")])
        same_as_one_device(model, strategy)
    print(f"SpeechEmotionCRNN: {model.count_params():,} parameters, {steps} steps per epoch", flush=True)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [EpochTimer(), budget, *checkpoint_callbacks(cfg, "val_accuracy", "max", steps)]
    if cfg.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", mode="max",
                                                       patience=cfg.early_stopping_patience))
    t0 = time.perf_counter()
    # the tf.data pipeline shuffles; Keras' default shuffle=True would only warn that it ignores it
    history = model.fit(distributable(train_ds.map(model_inputs), strategy, cfg.batch_size, counts['train']),
                        validation_data=distributable(val_ds.map(model_inputs), strategy), epochs=cfg.epochs,
                        steps_per_epoch=steps, callbacks=callbacks, verbose=2, shuffle=False)
    seconds = time.perf_counter() - t0
    save_curves(out / "history.csv", out / "curves.png")
    h = history.history
    summary = {"stage": cfg.stage, "epochs_run": len(h.get("loss", [])), "train_seconds": round(seconds, 1),
               "best_val_accuracy": max(h["val_accuracy"]) if h.get("val_accuracy") else None,
               "seconds_per_epoch": round(float(np.mean(h.get("epoch_seconds", [0]))), 2),
               "parameters": int(model.count_params()), "labels": list(labels), "clips": counts,
               "stopped_by_time_budget": budget.stopped_at is not None, **strategy_fields(cfg, strategy)}
    best = out / "best.keras"
    if counts["test"] and best.is_file():  # the held-out speakers, scored once with the chosen checkpoint
        import lipkeras.models  # noqa: F401  (registers the classes)

        chosen = keras.saving.load_model(best, compile=False)
        test_ds = audio_dataset(cfg.data, batch_size=64, clip_ids=splits.ids["test"], **common)
        y, probs, clips, secs = predict_clips(chosen, test_ds)
        metrics = classification_metrics(y.tolist(), probs.argmax(-1).tolist(), labels)
        metrics["clips_per_second"] = round(len(y) / max(secs, 1e-9), 1)
        write_json_atomic(out / "test_metrics.json", metrics)
        summary.update(test_accuracy=metrics["accuracy"], test_macro_f1=metrics["macro"]["f1"],
                       test_clips=len(y))
    write_json_atomic(out / "summary.json", summary)
    print(json.dumps(summary), flush=True)
    return summary
