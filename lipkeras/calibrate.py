"""``lipkeras calibrate``: fit a model's confidence on its validation split, and its domain on its training clips.

Lip readers (``lipkeras/decode/confidence.py`` says what the numbers mean): Platt scaling of the
word scores against word correctness on the validation clips; the utterance warning threshold;
the Gaussian of the training clips' embeddings with its validation-based limit. Written into the
model folder: ``lipkeras.json`` gains ``confidence`` (with the validation ECE/AUROC it reached),
``domain.npz`` appears beside ``model.keras``.

Emotion models: temperature scaling of the probabilities (``softmax(log p / τ)``, τ minimising the
validation negative log-likelihood); a label whose calibrated probability is under the threshold
(0.5: more likely wrong than right) is reported as uncertain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lipkeras.decode.confidence import (DOMAIN_FILE, Calibration, Domain, auroc, expected_calibration_error, fit_platt,
                                        word_correctness, word_scores)
from lipkeras.records.io import write_json_atomic

UTTERANCE_FLAG_RATE = 0.025  # the share of validation utterances the warning threshold may flag


def read_split(reader, data: str, ids=None, split: str | None = None, batch_size: int = 16, decode: bool = True):
    """Per clip of the split: reference, hypothesis, raw word scores and embedding (``decode=False``:
    embeddings and frame counts only, for the training clips)."""
    from lipkeras.records import mouth_dataset

    ds = mouth_dataset(data, batch_size=batch_size, normalization=None, crop_size=reader.meta["crop_size"],
                       clip_ids=ids, split=split)
    rows = []
    for batch in ds:
        frames, lengths = batch["frames"].numpy(), batch["frame_lengths"].numpy()
        refs = [t.decode() for t in batch["transcript"].numpy()]
        if decode:
            results, chars, emb = reader.read_batch(frames, lengths)
        else:
            results, chars, emb = [{}] * len(refs), [[]] * len(refs), reader.embed_batch(frames, lengths)
        for r, res, c, e, n in zip(refs, results, chars, emb, lengths):
            rows.append({"reference": r, "hypothesis": res.get("text", ""), "char_logprobs": c, "embedding": e,
                         "frames": int(n), "ctc_char_logprobs": res.get("_ctc_char_logprobs")})
    if not rows:
        raise ValueError(f"{data}: no clips in this split (check the ids / split)")
    return rows


def word_table(rows) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(raw word scores, word correct?, words per clip) over clips."""
    scores, correct, per_clip = [], [], []
    for r in rows:
        words = word_scores(r["hypothesis"], r["char_logprobs"])
        ok = word_correctness(r["reference"], r["hypothesis"])
        scores += [s for _, s in words]
        correct += ok[:len(words)]
        per_clip.append(len(words))
    return np.asarray(scores, float), np.asarray(correct, bool), per_clip


def trust_metrics(cal: Calibration, rows) -> dict:
    """ECE and AUROC of word confidences, and how many utterances the threshold flags."""
    scores, correct, per_clip = word_table(rows)
    conf = np.array([cal.word_confidence(s) for s in scores])
    utterances = np.array([cal.confidences(r["hypothesis"], r["char_logprobs"])[0] for r in rows])
    return {"words": int(len(conf)), "word_accuracy": round(float(correct.mean()), 4) if len(conf) else None,
            "ece": round(expected_calibration_error(conf, correct), 4),
            "auroc": round(auroc(conf, correct), 4), "mean_confidence": round(float(conf.mean()), 4),
            "clips": len(rows), "low_confidence_rate": round(float((utterances < cal.threshold).mean()), 4)}


def calibrate_lipreader(name: str, data: str, val_ids=None, train_ids=None, val_split=None, train_split=None) -> dict:
    from lipkeras.lipreader import LipReader

    reader = LipReader(name)
    val = read_split(reader, data, val_ids, val_split)
    scores, correct, _ = word_table(val)
    a, b = fit_platt(scores, correct)
    cal = Calibration(a=round(a, 5), b=round(b, 5), method="Platt scaling of the mean character log-posterior "
                      "(CTC forced alignment, or the attention decoder's) per word, fit on the validation split")
    if reader.kind == "crossmodal":  # a served cross-modal model has only CTC posteriors: their own fit
        ctc_rows = [{**r, "char_logprobs": r["ctc_char_logprobs"]} for r in val]
        ctc_a, ctc_b = fit_platt(*word_table(ctc_rows)[:2])
        cal_extra = {"ctc_a": round(ctc_a, 5), "ctc_b": round(ctc_b, 5),
                     "ctc_validation": trust_metrics(Calibration(ctc_a, ctc_b), ctc_rows)}
    else:
        cal_extra = {}
    utterances = np.array([cal.confidences(r["hypothesis"], r["char_logprobs"])[0] for r in val])
    cal.threshold = round(float(min(0.5, np.quantile(utterances, UTTERANCE_FLAG_RATE))), 4)
    train = read_split(reader, data, train_ids, train_split, decode=False)
    domain = Domain.fit(np.stack([r["embedding"] for r in train]), np.stack([r["embedding"] for r in val]),
                        np.array([r["frames"] for r in train]))
    folder = reader.path.parent
    domain.save(folder / DOMAIN_FILE)
    meta_file = folder / "lipkeras.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    meta["confidence"] = {**cal.__dict__, "validation": trust_metrics(cal, val), **cal_extra,
                          "data": str(data), "val_ids": str(val_ids or val_split), "train_ids": str(train_ids or train_split),
                          "domain": {"threshold": round(domain.threshold, 4), "margin": domain.margin,
                                     "quantile": domain.quantile, "distances": domain.reference,
                                     "shrinkage": domain.shrinkage, "train_clips": len(train),
                                     "frames": [domain.min_frames, domain.max_frames]}}
    write_json_atomic(meta_file, meta)
    return meta["confidence"]


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """τ minimising the negative log-likelihood of ``softmax(log p / τ)`` (golden-section search)."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(t):
        z = logp / t
        z = z - z.max(1, keepdims=True)
        return float(-(z[np.arange(len(z)), labels] - np.log(np.exp(z).sum(1))).mean())

    lo, hi = 0.2, 5.0
    g = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(m1) < nll(m2):
            hi = m2
        else:
            lo = m1
    return float((lo + hi) / 2)


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    z = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def calibrate_emotion(name: str, data: str, seed: int = 0, val_fraction: float = 0.1) -> dict:
    """Temperature scaling on the validation faces of an image folder (split as ``--stage emotion``)
    or of an arrays file (``lipkeras records export-npz``)."""
    from lipkeras.emotion import EmotionReader
    from lipkeras.records.arrays import load_arrays
    from lipkeras.train.portable import is_arrays

    reader = EmotionReader(name)  # its default views for images (the probabilities `lipkeras emotion` gives)
    if is_arrays(data):
        arrays = load_arrays(data)
        faces, labels = arrays["val_x"], arrays["val_y"].astype(int)
        names = [str(v) for v in arrays["labels"]]
    else:
        import cv2

        from lipkeras.train.config import EmotionConfig
        from lipkeras.train.emotion import load_split

        names, _, (paths, labels), _, _ = load_split(EmotionConfig(data=data, seed=seed, val_fraction=val_fraction))
        faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])[..., None]
        labels = np.asarray(labels)
    index = [list(reader.labels).index(n) for n in names]  # the data's label order → the model's
    labels = np.asarray(index)[labels]
    probs = reader.predict_faces(faces)
    t = fit_temperature(probs, labels)
    calibrated = tempered(probs, t)
    correct = probs.argmax(1) == labels
    out = {"temperature": round(t, 4), "threshold": 0.5,
           "method": "temperature scaling of the probabilities (softmax(log p / T)), T fit on the validation faces",
           "validation": {"faces": int(len(labels)), "accuracy": round(float(correct.mean()), 4),
                          "ece_before": round(expected_calibration_error(probs.max(1), correct), 4),
                          "ece": round(expected_calibration_error(calibrated.max(1), correct), 4),
                          "auroc": round(auroc(calibrated.max(1), correct), 4),
                          "uncertain_rate": round(float((calibrated.max(1) < 0.5).mean()), 4),
                          "accuracy_when_certain": round(float(correct[calibrated.max(1) >= 0.5].mean()), 4)},
           "data": str(data)}
    meta_file = reader.path.parent / "lipkeras.json"  # the model folder's (exports find it there)
    if reader.path.suffix == ".tflite" or not meta_file.is_file():
        raise ValueError(f"{reader.path}: calibrate the Keras model (saved_models/NAME), its exports read it")
    meta = json.loads(meta_file.read_text())
    meta["confidence"] = out
    write_json_atomic(meta_file, meta)
    return out


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="lipkeras calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="model name under saved_models/ or a model folder")
    p.add_argument("--data", required=True, help="lip readers: mouth records; emotion: an image folder "
                   "ROOT/<label>/* or an arrays file from `lipkeras records export-npz`")
    p.add_argument("--val-ids", help="lip readers: file of validation clip ids")
    p.add_argument("--train-ids", help="lip readers: file of training clip ids (the domain's reference)")
    p.add_argument("--val-split", help="lip readers: the records' split to validate on (instead of --val-ids)")
    p.add_argument("--train-split", help="lip readers: the records' training split (instead of --train-ids)")
    args = p.parse_args(argv)
    try:
        from lipkeras.lipreader import read_metadata, resolve

        meta = read_metadata(resolve(args.model))
        if "labels" in meta or "face_size" in meta or "preprocessing" in meta:
            out = calibrate_emotion(args.model, args.data)
        else:
            if not (args.val_ids or args.val_split) or not (args.train_ids or args.train_split):
                raise ValueError("a lip reader needs --val-ids/--val-split and --train-ids/--train-split")
            out = calibrate_lipreader(args.model, args.data, args.val_ids, args.train_ids, args.val_split,
                                      args.train_split)
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"lipkeras calibrate: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=1))
    return 0
