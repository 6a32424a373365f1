"""``lipkeras evaluate --stage emotion``: accuracy, per-class precision/recall/F1, confusion matrix.

``data`` is a folder of face images (``ROOT/<label>/*``), a training run's ``split.json`` (its
validation images), or face records made by ``preprocess`` from labelled videos; for records
both frame-level and video-level (mean of the frame probabilities) scores are given.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np


def _image_data(data: str, labels) -> tuple[list[str], list[int], int, list[dict]]:
    """``(paths, label ids, faces of other labels, unreadable {path, reason})`` of an image folder or split.json."""
    from lipkeras.records.image_folder import image_items, image_problems

    if str(data).endswith(".json"):
        split = json.loads(Path(data).read_text())
        from lipkeras.preprocess.labels import canonical_emotion

        problems = image_problems(split["val"])
        paths = [p for p, why in zip(split["val"], problems) if not why]
        names = [canonical_emotion(Path(p).parent.name) for p in paths]
        unreadable = [{"path": p, "reason": why} for p, why in zip(split["val"], problems) if why]
    else:
        paths, names, skipped = image_items(data)
        # discover's reasons for files it could not use (not inside a <label>/ folder, unknown label, unreadable)
        unreadable = [s.to_dict() for s in skipped]
    index = {n: i for i, n in enumerate(labels)}
    keep = [i for i, n in enumerate(names) if n in index]
    return [paths[i] for i in keep], [index[names[i]] for i in keep], len(paths) - len(keep), unreadable


def evaluate_emotion(reader, data: str, batch_size: int = 256, frames_per_clip: int = 32,
                     split: str | None = None, exclude_copies_of: str | None = None) -> dict:
    """Scores of ``reader`` on ``data``; ``exclude_copies_of`` (a folder of images, e.g. the model's
    training faces) leaves out evaluated images whose pixels exactly equal one of its images, so a
    held-out set with duplicates of the training data (FER2013 has many) is scored on unseen faces."""
    from lipkeras.metrics import classification_metrics
    from lipkeras.train.text_corpus import is_records

    labels = list(reader.labels)
    result = {"model": str(reader.path), "data": str(data), "labels": labels}
    if not str(data).endswith(".json") and is_records(data):
        from lipkeras.records import face_dataset

        if exclude_copies_of:
            raise ValueError(f"{data}: --exclude-copies-of compares images; these are face records")

        frame_true, frame_pred, video_true, video_pred = [], [], [], []
        ds = face_dataset(data, batch_size=1, mode="clip", labels=labels, frames_per_clip=frames_per_clip, split=split)
        for clip in ds:
            n = int(clip["frame_lengths"][0])
            probs = reader.predict_faces(clip["frames"][0, :n].numpy(), views=reader.video_views)
            y = int(clip["label"][0])
            frame_true += [y] * n
            frame_pred += probs.argmax(-1).tolist()
            video_true.append(y)
            video_pred.append(int(probs.mean(0).argmax()))
        if not video_true:
            raise ValueError(f"{data}: no face records with labels {labels}" + (f" in split {split}" if split else ""))
        result["frame"] = classification_metrics(frame_true, frame_pred, labels)
        result["video"] = classification_metrics(video_true, video_pred, labels)
        result["main"] = "video"
        result["views"] = reader.video_views
    else:
        from lipkeras.records.image_folder import image_folder_dataset

        paths, ids, skipped, unusable = _image_data(data, labels)
        if exclude_copies_of:
            from lipkeras.records.image_folder import image_items, leaked

            reference, _, _ = image_items(exclude_copies_of, check=False)  # leaked() decodes them anyway
            if not reference:
                raise ValueError(f"{exclude_copies_of}: no images under <label>/ folders to compare with")
            copies = set(leaked(reference, paths).tolist())
            paths = [p for i, p in enumerate(paths) if i not in copies]
            ids = [y for i, y in enumerate(ids) if i not in copies]
            result["excluded_copies"] = len(copies)
        if not paths:
            raise ValueError(f"{data}: no face images with labels {labels}")
        preds = []
        for x, _ in image_folder_dataset(paths, ids, reader.size, reader.channels, batch_size=batch_size):
            preds += reader.predict_faces(x.numpy()).argmax(-1).tolist()
        result["frame"] = classification_metrics(ids, preds, labels)
        result["skipped_other_labels"] = skipped
        result["skipped"] = unusable
        result["main"] = "frame"
        result["views"] = reader.views
    return result


def write_confusion(result: dict, stem: str | Path) -> dict:
    """``<stem>_confusion.csv`` and ``.png`` of the main level; returns their paths."""
    from lipkeras.visualize import confusion_png

    level = result[result["main"]]
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path = stem.with_name(stem.name + "_confusion.csv")
    tmp = csv_path.with_name(f".{csv_path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["true \\ predicted", *result["labels"]])
        for name, row in zip(result["labels"], level["confusion_matrix"]):
            w.writerow([name, *row])
    os.replace(tmp, csv_path)
    png = confusion_png(np.array(level["confusion_matrix"]), result["labels"],
                        stem.with_name(stem.name + "_confusion.png"),
                        f"{result['main']}-level accuracy {level['accuracy']:.3f}")
    return {"confusion_csv": str(csv_path), "confusion_png": str(png)}


def evaluate_speech_emotion(reader, data: str, ids=None, split: str | None = None, batch_size: int = 32) -> dict:
    """Scores of a ``SpeechEmotionReader`` on the audio of records (each clip's centred
    ``max_seconds`` window, as the reader reads files): accuracy, per-class and macro scores,
    confusion matrix, bootstrap intervals, and throughput (``clips_per_second``, model only)."""
    import time

    from lipkeras.metrics import classification_metrics
    from lipkeras.records.audio import audio_dataset

    labels = list(reader.labels)
    ds = audio_dataset(data, batch_size=batch_size, labels=labels, max_seconds=reader.max_seconds,
                       sample_rate=reader.sample_rate, cache=False, split=split, clip_ids=ids)
    y_true, y_pred, seconds = [], [], 0.0
    for batch in ds:
        t0 = time.perf_counter()
        probs = reader.model.predict_on_batch({"waveform": batch["waveform"], "lengths": batch["lengths"]})
        seconds += time.perf_counter() - t0
        y_true += batch["label"].numpy().tolist()
        y_pred += np.asarray(probs).argmax(-1).tolist()
    if not y_true:
        raise ValueError(f"{data}: no audio records with labels {labels}" + (f" in split {split}" if split else ""))
    return {"model": str(reader.path), "data": str(data), "labels": labels, "modality": "audio",
            "clip": classification_metrics(y_true, y_pred, labels), "main": "clip",
            "max_seconds": reader.max_seconds, "clips_per_second": round(len(y_true) / max(seconds, 1e-9), 1)}
