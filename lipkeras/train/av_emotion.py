"""``--stage av-emotion``: the audio-visual emotion model (``AVEmotionModel``) of a speech and a face stream.

Data (``--data``):

* a records folder of audio-visual clips (``lipkeras preprocess --audio --rois face``, e.g. CREMA-D
  or RAVDESS audio-video): each clip's 12 face key frames (``key_frames``) + its audio + its label;
  trains on ``--train-split``, validates on ``--val-split`` (all clips for both when a split has none);
* ``pairs``: **label-matched pairs**, a RAVDESS utterance (``--speech-data``, actors ``--train-actors``
  / ``--val-actors``) with a FER face of the same emotion (``--face-data``: its seeded stratified
  training / validation faces, as ``--stage emotion`` splits them) shown as a still 12-frame clip.
  RAVDESS' *calm* has no FER face: a neutral face goes with it (``FACE_FOR``).

With ``--train-streams false`` (the default: the streams come trained) the streams' outputs are
computed once and only the fusion learns (fast on a CPU); otherwise the whole model trains jointly
(``--face-model clip3d``, a fresh ``FaceClip3DCNN``, always does). ``--ship DIR`` copies the trained
model with its ``lipkeras.json`` there (e.g. ``saved_models/av_emotion``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lipkeras.emotion.av import to_model_faces
from lipkeras.records.audio import centred
from lipkeras.records.io import save_keras_atomic, write_json_atomic
from lipkeras.train.config import AVEmotionConfig

FACE_FOR = {"calm": "neutral"}  # the FER face shown with a RAVDESS label FER2013 does not have
RAVDESS_RATE = 16000


def actor_list(text: str) -> list[int]:
    """``"1-14"`` / ``"15,16"`` → actor numbers."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def read_wav(path: str | Path, max_seconds: float = 0.0) -> np.ndarray:
    """A 16 kHz mono WAV as float32 in [-1, 1] (other rates and formats through the video decoder)."""
    from scipy.io import wavfile

    try:
        rate, pcm = wavfile.read(str(path))
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable WAV file ({exc})") from None
    if pcm.ndim > 1:
        pcm = pcm.mean(1)
    if rate != RAVDESS_RATE:
        from lipkeras.preprocess.video import decode_audio

        pcm = decode_audio(path, RAVDESS_RATE)
    wave = pcm.astype(np.float32) / (32768.0 if pcm.dtype != np.float32 else 1.0)
    return centred(wave, int(max_seconds * RAVDESS_RATE))


def audio_window(cfg: AVEmotionConfig) -> AVEmotionConfig:
    """``cfg`` with ``max_seconds`` resolved: 0 takes the speech model's own window, so the speech stream reads
    the centred window it was trained and tested on, not another cut of the clip."""
    import dataclasses
    import json

    if cfg.max_seconds > 0:
        return cfg
    seconds = 4.0
    try:
        from lipkeras.lipreader import resolve

        meta = resolve(cfg.speech_model).parent / "lipkeras.json"
        seconds = float(json.loads(meta.read_text()).get("max_seconds") or seconds) if meta.is_file() else seconds
    except (FileNotFoundError, ValueError):
        pass  # a stream built here (e.g. crnn): no window of its own
    return dataclasses.replace(cfg, max_seconds=seconds)


def ravdess_utterances(root: str | Path, actors) -> tuple[list[str], list[str]]:
    """``(paths, labels)`` of the RAVDESS speech files of ``actors`` under ``root/Actor_XX/``."""
    from lipkeras.preprocess.errors import SkipInput
    from lipkeras.preprocess.labels import parse_ravdess

    paths, labels = [], []
    for a in actors:
        for f in sorted((Path(root) / f"Actor_{a:02d}").glob("*.wav")):
            try:
                labels.append(parse_ravdess(f)["emotion"])
            except SkipInput:
                continue
            paths.append(str(f))
    if not paths:
        raise ValueError(f"{root}: no RAVDESS speech files of actors {actors}")
    return paths, labels


def fer_faces(root: str | Path, part: str, val_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(paths, labels)`` of the FER faces of ``part`` (train / val): the seeded stratified split of
    ``--stage emotion`` (so ``fer_emotion``'s validation faces stay unseen)."""
    from lipkeras.records.image_folder import image_items, stratified_split

    paths, names, _ = image_items(root, check=False)
    if not paths:
        raise ValueError(f"{root}: no face images under <label>/ folders")
    tr, va = stratified_split(names, val_fraction, seed)
    keep = tr if part == "train" else va
    return [paths[i] for i in keep], [names[i] for i in keep]


def label_matched_pairs(speech_labels, face_labels, seed: int = 0) -> np.ndarray:
    """For each utterance, the index of a face of the same emotion (``FACE_FOR`` where the faces lack
    it), drawn without replacement while faces last (seeded); -1 when no face matches."""
    rng = np.random.default_rng(seed)
    pools: dict[str, list[int]] = {}
    for i, lab in enumerate(face_labels):
        pools.setdefault(lab, []).append(i)
    queues = {lab: list(rng.permutation(ix)) for lab, ix in pools.items()}
    out = np.full(len(speech_labels), -1, int)
    for i, lab in enumerate(speech_labels):
        want = lab if lab in pools else FACE_FOR.get(lab, lab)
        if want not in pools:
            continue
        if not queues[want]:
            queues[want] = list(rng.permutation(pools[want]))
        out[i] = queues[want].pop()
    return out


def read_faces(paths, size: int, channels: int) -> np.ndarray:
    """Face images → uint8 ``[N, size, size, channels]``."""
    import cv2

    out = np.zeros((len(paths), size, size, channels), np.uint8)
    for i, p in enumerate(paths):
        img = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR_RGB)
        if img is None:
            raise ValueError(f"{p}: not a readable image")
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = img.reshape(size, size, channels)
    return out


def pad_waves(waves, max_samples: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms → ``([N, L] float32 zero-padded, lengths [N] int32)``; at least 400 samples (one frame)."""
    waves = [np.asarray(w, np.float32)[: max_samples or None] for w in waves]
    lengths = np.array([len(w) for w in waves], np.int32)
    out = np.zeros((len(waves), max(400, int(lengths.max()) if len(waves) else 400)), np.float32)
    for i, w in enumerate(waves):
        out[i, : len(w)] = w
    return out, lengths


def pair_examples(cfg: AVEmotionConfig, part: str, labels, size: int, channels: int) -> dict:
    """The label-matched pairs of ``part`` (train / val / test) as arrays (faces: one per pair, ``[N, 1, S, S, C]``)."""
    actors = actor_list({"train": cfg.train_actors, "val": cfg.val_actors, "test": cfg.test_actors}[part])
    s_paths, s_labels = ravdess_utterances(cfg.speech_data, actors)
    f_paths, f_labels = fer_faces(cfg.face_data, "train" if part == "train" else "val", cfg.face_val_fraction,
                                  cfg.face_split_seed)
    match = label_matched_pairs(s_labels, f_labels, cfg.seed + {"train": 0, "val": 1, "test": 2}[part])
    keep = [i for i in range(len(s_paths)) if match[i] >= 0 and s_labels[i] in labels]
    waves, lengths = pad_waves([read_wav(s_paths[i], cfg.max_seconds) for i in keep])
    faces = read_faces([f_paths[match[i]] for i in keep], size, channels)[:, None]
    index = {lab: j for j, lab in enumerate(labels)}
    return {"waveform": waves, "lengths": lengths, "faces": faces,
            "label": np.array([index[s_labels[i]] for i in keep], np.int32),
            "ids": [f"{Path(s_paths[i]).stem}+{Path(f_paths[match[i]]).parent.name}/{Path(f_paths[match[i]]).name}"
                    for i in keep]}


def record_examples(cfg: AVEmotionConfig, split: str | None, labels, size: int, channels: int,
                    frames: int) -> dict:
    """Audio-visual records of ``split`` (``None``: all) as arrays: key frames ``[N, frames, S, S, C]``."""
    import tensorflow as tf

    from lipkeras.models.av_emotion import key_frames
    from lipkeras.records.io import compression_of, list_shards
    from lipkeras.records.schema import decode_numpy

    shards = list_shards(cfg.data)
    if not shards:
        raise ValueError(f"{cfg.data}: no .tfrecord shards")
    index = {lab: j for j, lab in enumerate(labels)}
    waves, faces, ys, ids, splits, skipped = [], [], [], [], [], []
    for shard in shards:
        ds = tf.data.TFRecordDataset(shard, compression_type=compression_of(shard))
        for raw in ds.as_numpy_iterator():
            r = decode_numpy(raw)
            if split is not None and r["split"] != split:
                continue
            why = ("no face frames" if "face" not in r or not r["num_frames"] else
                   "no audio" if r.get("audio") is None or not len(r["audio"]) else
                   f"label {r['label']!r} not in {tuple(labels)}" if r["label"] not in index else None)
            if why:
                skipped.append(f"{r['clip_id']}: {why}")
                continue
            waves.append(centred(r["audio"].astype(np.float32) / 32768.0, int(cfg.max_seconds * RAVDESS_RATE)))
            faces.append(to_model_faces(key_frames(r["face"], frames), size, channels))
            ys.append(index[r["label"]])
            ids.append(r["clip_id"])
            splits.append(r["split"])
    if not ids:
        raise ValueError(f"{cfg.data}: no audio-visual clips with a known label in split {split!r}"
                         + (f" ({skipped[0]}, ...)" if skipped else ""))
    w, lengths = pad_waves(waves, int(cfg.max_seconds * RAVDESS_RATE))
    return {"waveform": w, "lengths": lengths, "faces": (np.stack(faces) * 255).round().astype(np.uint8),
            "label": np.array(ys, np.int32), "ids": ids, "split": splits, "skipped": skipped}


def subset(ex: dict, split: str | None) -> dict:
    """The examples of records ``split`` (``None``: all)."""
    if split is None:
        return ex
    keep = np.array([s == split for s in ex["split"]])
    return {k: (v[keep] if isinstance(v, np.ndarray) else [x for x, k_ in zip(v, keep) if k_])
            if k != "skipped" else v for k, v in ex.items()}


def model_inputs(ex: dict, frames: int, start: int = 0, stop: int | None = None) -> dict:
    """Model inputs of examples ``start:stop`` (a still face repeated over the key frames)."""
    faces = ex["faces"][start:stop].astype(np.float32) / 255.0
    if faces.shape[1] == 1:
        faces = np.repeat(faces, frames, axis=1)
    return {"waveform": ex["waveform"][start:stop], "lengths": ex["lengths"][start:stop], "faces": faces}


def predict_examples(model, ex: dict, frames: int, batch_size: int = 32):
    """``model``'s outputs over all examples, in batches (a list per output, or one array)."""
    outs = []
    for i in range(0, len(ex["label"]), batch_size):
        o = model.predict_on_batch(model_inputs(ex, frames, i, i + batch_size))
        outs.append(o)
    if isinstance(outs[0], dict):
        return {k: np.concatenate([np.asarray(o[k]) for o in outs]) for k in outs[0]}
    if isinstance(outs[0], (list, tuple)):
        return [np.concatenate([np.asarray(o[j]) for o in outs]) for j in range(len(outs[0]))]
    return np.concatenate([np.asarray(o) for o in outs])


def _labels_of(text: str):
    return tuple(t.strip() for t in str(text).split(",") if t.strip()) or None


def build(cfg: AVEmotionConfig):
    """The AV model the config asks for (streams loaded, or a fresh ``FaceClip3DCNN``)."""
    import keras

    from lipkeras.models.av_emotion import FaceClip3DCNN, build_av_emotion

    face = cfg.face_model
    train_streams = cfg.train_streams
    if face == "clip3d":
        face = FaceClip3DCNN(labels=_labels_of(cfg.face_labels) or FaceClip3DCNN().labels, frames=cfg.frames,
                             input_size=cfg.face_size)
        train_streams = True
    weights = [float(w) for w in cfg.stream_weights.split(",")] if cfg.stream_weights else None
    return build_av_emotion(cfg.speech_model, face, fusion=cfg.fusion, bel_mode=cfg.bel_mode,
                            speech_labels=_labels_of(cfg.speech_labels), face_labels=_labels_of(cfg.face_labels),
                            labels=_labels_of(cfg.labels), frames=cfg.frames, stream_weights=weights,
                            train_streams=train_streams, mobel_units=cfg.mobel_units), keras


def accuracies(probs: dict, y: np.ndarray) -> dict:
    return {k: round(float((np.argmax(v, -1) == y).mean()), 4) for k, v in probs.items()}


def train(cfg: AVEmotionConfig) -> dict:
    import keras
    import tensorflow as tf

    from lipkeras.train.callbacks import EpochTimer, TimeBudget
    from lipkeras.train.emotion import save_curves
    from lipkeras.train.runner import checkpoint_callbacks, start_run, strategy_fields
    from lipkeras.train.strategy import distributable, model_scope, same_as_one_device

    cfg = audio_window(cfg)
    out = start_run(cfg)
    with model_scope(cfg.strategy, cfg.batch_size) as strategy:  # the streams' variables, then the fusion's
        model, _ = build(cfg)
    labels = model.labels
    size, channels = model.face_input_size
    frames = model.key_frame_count
    if cfg.data == "pairs":
        train_ex = pair_examples(cfg, "train", labels, size, channels)
        val_ex = pair_examples(cfg, "val", labels, size, channels)
    else:
        every = record_examples(cfg, None, labels, size, channels, frames)
        for skip in every["skipped"]:
            print(f"skipped {skip}", flush=True)
        splits = set(every["split"])
        train_ex = subset(every, cfg.train_split if cfg.train_split in splits else None)
        val_ex = subset(every, cfg.val_split if cfg.val_split in splits else None)
        if cfg.train_split not in splits or cfg.val_split not in splits:
            # e.g. records written as one split 'all': said, not silently
            print(f"av-emotion: {cfg.data} holds splits {sorted(splits)}: training on "
                  f"{cfg.train_split if cfg.train_split in splits else 'every clip'}, validating on "
                  f"{cfg.val_split if cfg.val_split in splits else 'every clip'}", flush=True)
    n_train, n_val = len(train_ex["label"]), len(val_ex["label"])
    print(f"av-emotion data: {n_train} training and {n_val} validation examples ({cfg.data}), labels {labels}, "
          f"fusion {cfg.fusion}{'/' + cfg.bel_mode if cfg.fusion == 'bel' else ''}", flush=True)
    write_json_atomic(out / "split.json", {"labels": list(labels), "data": cfg.data, "train": train_ex["ids"],
                                           "val": val_ex["ids"]})
    joint = bool(model.config["train_streams"])
    if joint:  # the whole model trains: batches of inputs
        fit_model = model

        def dataset(ex, training):
            ds = tf.data.Dataset.from_tensor_slices((model_inputs(ex, frames), ex["label"]))
            if training:
                ds = ds.shuffle(len(ex["label"]), seed=cfg.seed, reshuffle_each_iteration=True)
            return ds.batch(cfg.batch_size)
        train_ds, val_ds = dataset(train_ex, True), dataset(val_ex, False)
    else:  # frozen streams: their outputs once, then the fusion alone
        t0 = time.perf_counter()
        # still faces (pairs) through a per-frame face stream: one frame computes what 12 copies pool to
        still = train_ex["faces"].shape[1] == 1 and val_ex["faces"].shape[1] == 1 and \
            len(model._stream_models[1].inputs[0].shape) == 4
        features = model.features_model(frames=1 if still else None)
        tr_f = predict_examples(features, train_ex, 1 if still else frames)
        va_f = predict_examples(features, val_ex, 1 if still else frames)
        print(f"stream outputs of {n_train + n_val} examples in {time.perf_counter() - t0:.1f} s", flush=True)
        with strategy.scope():  # Keras fits a model under the strategy it was created in
            fit_model = model.fusion_head()
        train_ds = tf.data.Dataset.from_tensor_slices((tuple(tr_f), train_ex["label"])).shuffle(
            n_train, seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)
        val_ds = tf.data.Dataset.from_tensor_slices((tuple(va_f), val_ex["label"])).batch(256)
    if cfg.steps_per_epoch:
        train_ds = train_ds.repeat()
    with strategy.scope():
        fit_model.compile(keras.optimizers.Adam(cfg.learning_rate, clipnorm=cfg.clipnorm or None),
                          "sparse_categorical_crossentropy", metrics=["accuracy"])
        same_as_one_device(fit_model, strategy)
    trainable = sum(int(np.prod(w.shape)) for w in fit_model.trainable_weights)
    print(f"AVEmotionModel: {model.count_params():,} parameters, {trainable:,} trained "
          f"({'jointly' if joint else 'the fusion on frozen streams'})", flush=True)
    budget = TimeBudget(cfg.max_minutes)
    callbacks = [EpochTimer(), budget, *checkpoint_callbacks(cfg, "val_accuracy", "max")]
    if cfg.early_stopping_patience:
        callbacks.insert(2, keras.callbacks.EarlyStopping("val_accuracy", mode="max",
                                                          patience=cfg.early_stopping_patience))
    t0 = time.perf_counter()
    history = fit_model.fit(distributable(train_ds, strategy, cfg.batch_size, n_train),
                            validation_data=distributable(val_ds, strategy),
                            epochs=cfg.epochs, callbacks=callbacks, verbose=2,
                            steps_per_epoch=cfg.steps_per_epoch or None, shuffle=False)
    seconds = time.perf_counter() - t0
    best = out / "best.keras"
    if best.is_file():  # the fusion (or whole model) at its best validation accuracy
        fit_model.set_weights(keras.saving.load_model(best, compile=False).get_weights())
    save_curves(out / "history.csv", out / "curves.png")
    streams = predict_examples(model.streams_model(), val_ex, frames)
    val_acc = accuracies(streams, val_ex["label"])
    model_file = save_keras_atomic(model, out / "model.keras")
    meta = metadata(cfg, model, val_acc, n_train, n_val)
    write_json_atomic(out / "lipkeras.json", meta)
    h = history.history
    summary = {"stage": cfg.stage, "epochs_run": len(h.get("loss", [])), "train_seconds": round(seconds, 1),
               "best_val_accuracy": max(h["val_accuracy"]) if h.get("val_accuracy") else None,
               "val_accuracy_by_stream": val_acc, "labels": list(labels), "fusion": cfg.fusion,
               "bel_mode": cfg.bel_mode if cfg.fusion == "bel" else None, "train_examples": n_train,
               "val_examples": n_val, "parameters": int(model.count_params()), "trained_parameters": trainable,
               "joint": joint, "stopped_by_time_budget": budget.stopped_at is not None, "model": str(model_file),
               **strategy_fields(cfg, strategy)}
    if cfg.fusion == "bel" and cfg.bel_mode == "learned":
        per_class = np.asarray(model.fusion_layer.stream_weights_per_class())
        summary["stream_weights_per_class"] = {lab: {"speech": round(float(per_class[0, j]), 3),
                                                     "face": round(float(per_class[1, j]), 3)}
                                               for j, lab in enumerate(labels)}
    write_json_atomic(out / "summary.json", summary)
    print(json.dumps(summary), flush=True)
    if cfg.ship:
        ship(out, cfg.ship)
        print(f"shipped → {cfg.ship}", flush=True)
    return summary


def metadata(cfg: AVEmotionConfig, model, val_acc: dict, n_train: int, n_val: int) -> dict:
    """``lipkeras.json`` of a trained AV model: labels, streams, inputs, framing, validation scores."""
    from lipkeras.emotion.face import FER_FACE_CENTER_Y, FER_FACE_SIDE

    size, channels = model.face_input_size
    face_meta = {}
    try:
        from lipkeras.lipreader import resolve

        f = resolve(cfg.face_model).parent / "lipkeras.json" if cfg.face_model != "clip3d" else None
        face_meta = json.loads(f.read_text()) if f and f.is_file() else {}
    except (FileNotFoundError, ValueError):
        pass
    return {"name": Path(cfg.ship).name if cfg.ship else Path(cfg.out).name, "kind": "av_emotion",
            "labels": list(model.labels), "fusion": cfg.fusion,
            "bel_mode": cfg.bel_mode if cfg.fusion == "bel" else None,
            "speech_model": cfg.speech_model, "speech_labels": list(model.config["speech_labels"]),
            "face_model": cfg.face_model, "face_labels": list(model.config["face_labels"]),
            "key_frames": model.key_frame_count, "input_size": size, "channels": channels, "sample_rate": RAVDESS_RATE,
            "max_seconds": cfg.max_seconds, "face_size": face_meta.get("face_size", 112),
            "face_side": face_meta.get("face_side", FER_FACE_SIDE),
            "face_center_y": face_meta.get("face_center_y", FER_FACE_CENTER_Y),
            "input": f"waveform [B, N] float32 in [-1, 1] at 16 kHz + lengths [B] int32 + faces "
                     f"[B, {model.key_frame_count}, {size}, {size}, {channels}] float32 in [0, 1]",
            "output": "fused class probabilities [B, len(labels)]",
            "trained_on": cfg.data if cfg.data != "pairs" else
            f"label-matched pairs: RAVDESS actors {cfg.train_actors} + FER training faces (validation: actors "
            f"{cfg.val_actors} + FER validation faces)",
            "validation": {"examples": n_val, "train_examples": n_train, "accuracy": val_acc}}


def ship(run: str | Path, out_dir: str | Path) -> Path:
    """Copy a run's ``model.keras``, ``lipkeras.json``, curves and summary into ``out_dir`` (atomic writes)."""
    import shutil

    run, out = Path(run), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.keras", "lipkeras.json", "summary.json", "history.csv", "curves.png", "config.json"):
        if (run / name).is_file():
            target = out / {"summary.json": "train_summary.json", "config.json": "train_config.json"}.get(name, name)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(run / name, tmp)
            tmp.replace(target)
    meta = json.loads((out / "lipkeras.json").read_text())
    write_json_atomic(out / "lipkeras.json", {**meta, "name": out.name})
    return out / "model.keras"


def train_speech_stand_in(out: str | Path, speech_data: str, train_actors: str = "1-14", val_actors: str = "15-16",
                          epochs: int = 12, max_seconds: float = 4.0, max_minutes: float = 8.0, seed: int = 0) -> dict:
    """A quickly trained ``speech_stand_in`` on RAVDESS (until ``saved_models/speech_emotion`` ships):
    ``out/model.keras`` + ``lipkeras.json`` (its labels)."""
    import keras

    from lipkeras.models.av_emotion import speech_stand_in
    from lipkeras.train.callbacks import TimeBudget

    keras.utils.set_random_seed(seed)
    labels = ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    index = {lab: i for i, lab in enumerate(labels)}
    data = {}
    for part, actors in (("train", train_actors), ("val", val_actors)):
        paths, labs = ravdess_utterances(speech_data, actor_list(actors))
        w, n = pad_waves([read_wav(p, max_seconds) for p in paths])
        data[part] = ({"waveform": w, "lengths": n}, np.array([index[lab] for lab in labs], np.int32))
    model = speech_stand_in(labels)
    model.compile(keras.optimizers.Adam(2e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    h = model.fit(*data["train"], validation_data=data["val"], epochs=epochs, batch_size=32, verbose=2,
                  callbacks=[TimeBudget(max_minutes), keras.callbacks.ModelCheckpoint(
                      str(out / "best.keras"), monitor="val_accuracy", mode="max", save_best_only=True)])
    model = keras.saving.load_model(out / "best.keras", compile=False)
    save_keras_atomic(model, out / "model.keras")
    summary = {"labels": list(labels), "train_actors": train_actors, "val_actors": val_actors,
               "train_utterances": len(data["train"][1]), "val_utterances": len(data["val"][1]),
               "best_val_accuracy": round(max(h.history["val_accuracy"]), 4), "epochs": len(h.history["loss"]),
               "train_seconds": round(time.perf_counter() - t0, 1), "max_seconds": max_seconds}
    write_json_atomic(out / "lipkeras.json", {"name": out.name, "kind": "speech_emotion_stand_in",
                                              "labels": list(labels), "sample_rate": RAVDESS_RATE,
                                              "note": "a small log-mel LSTM stand-in for saved_models/speech_emotion",
                                              "training": summary})
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":  # python -m lipkeras.train.av_emotion stand-in OUT [RAVDESS_ROOT]
    import sys

    from lipkeras import _quiet

    _quiet.import_tensorflow()
    if sys.argv[1:2] != ["stand-in"] or len(sys.argv) < 3:
        sys.exit("usage: python -m lipkeras.train.av_emotion stand-in OUT [RAVDESS_ROOT]")
    train_speech_stand_in(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "../shared/data/ravdess_speech")
