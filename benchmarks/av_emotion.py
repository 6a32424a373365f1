"""Audio, face and audio-visual emotion: what each part of the tutorial's path scores.

    python benchmarks/av_emotion.py [--parts classical,crnn,deep,fusion] [--ravdess ../shared/data/ravdess_speech]
                                    [--fer ../shared/data/fer2013/train] [--cremad ../shared/data/cremad_sample]
                                    [--fer-train-faces 4000] [--json benchmarks/results/av_emotion.json]

Parts (``PARTS``, a registry: each part is a function of the parsed arguments returning its JSON
figures; ``--parts a,b`` runs those, and each writes only its own key of the shared JSON, re-read
just before the atomic write, so parts run at different times or by different people coexist):

``deep`` and ``fusion``: the paper's path (``benchmarks/av_emotion_deep.py``: the CRNN speech
stream, the pooled face stream and the shipped ``av_emotion`` on the CREMA-D clips; BEL learned /
product / mean vs MoBEL vs each stream on label-matched test pairs).

``crnn``: the shipped CRNN speech model on the same held-out actors as (a) below: accuracy,
macro-F1, its recorded training seconds, inference clips/s (model only, batches of 32; and with
decoding the files).

``classical`` (``lipkeras.emotion.features`` + ``lipkeras.models.classical``): GaussianNB, LDA, a
calibrated linear SVM and the 1D CNN (``PooledFeatureCNN``) on pooled clip features.

(a) audio: pooled MFCC (+ deltas) statistics of RAVDESS speech; trained on actors 01-14, choices
    (the SVM's C, the CNN's stopping epoch) on actors 15-16, scored on actors 17-20 (8 classes):
    accuracy, macro-F1, training seconds, inference clips/s (the classifier on ready features, and
    end to end with feature extraction from the decoded waveform).
(b) face: pooled landmark + blendshape statistics of FER2013 faces (upscaled 48 → 192 px for the
    Face Landmarker; the detection rate is reported): a seeded, stratified sample of the training
    faces (``--fer-train-faces``; 10 % of it held out for the choices), scored on the FER validation
    split of ``--stage emotion`` / ``benchmarks/emotion.py`` (stratified 10 %, seed 0, exact copies
    of training faces dropped), all of it; faces without a detection are counted in the detection
    rate and left out of the accuracy (accuracy counting them wrong is given too).
(c) label-matched pairs: a RAVDESS utterance paired with a FER face of the same emotion, for the 7
    emotions both have (calm left out). Train pairs: training actors' utterances with training faces;
    test pairs: test actors' utterances with validation faces; ``--pairs-per-utterance`` faces per
    utterance (seeded; drawn with replacement only where an emotion has fewer faces than pairs,
    e.g. disgust's validation faces). These are not audio-visual recordings: the two streams are independent given the
    label, so fusion here measures how two independent views of the label combine. Scored: each
    stream alone, early fusion (one classifier on both feature vectors) and late fusion (mean or
    product of the two stream classifiers' probabilities).
(d) CREMA-D: the 6 clips of actor 1001 (real audio-visual recordings, one per emotion), each stream
    and fused, per clip. The audio stream is (a)'s model, the face stream (b)'s (a face image is a
    one-frame clip, so a video's face probabilities are the mean over its frames, each scored as a
    one-frame clip), mapped to CREMA-D's 6 labels (calm's probability added to neutral's, surprise
    dropped, renormalised); late fusion of the two; early fusion is (c)'s model on the clip's audio
    features beside each frame's face features, averaged over frames. The 6 audio-only .mp3 of
    actor 1002 get the audio stream's predictions.

Features are cached (``--cache``, keyed by the file list) so reruns skip MediaPipe and the STFTs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RAVDESS_SPLITS = ROOT / "lipkeras" / "splits" / "ravdess_speech"
KINDS = ("gnb", "lda", "svm", "cnn")
SVM_C = (0.001, 0.01, 0.1)
CREMAD_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad")
TO_CREMAD = {"calm": "neutral"}  # RAVDESS's calm counts as CREMA-D's neutral

PARTS: dict = {}


def part(name: str):
    """Register a part: ``fn(args) -> dict`` (its figures, stored under ``name`` in the JSON)."""
    def add(fn):
        PARTS[name] = fn
        return fn
    return add


# ------------------------------------------------------------------------------------------ helpers

def _cached(cache: Path, tag: str, keys: list[str], compute):
    """``compute()`` → dict of arrays, stored as ``cache/tag-<hash of keys>.npz`` and reused."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    path = Path(cache) / f"{tag}-{digest}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out


def scores(y_true, y_pred, num_labels: int) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "macro_f1": round(float(f1_score(y_true, y_pred, labels=list(range(num_labels)), average="macro",
                                             zero_division=0)), 4),
            "samples": int(len(y_true))}


def ravdess_items(root: Path, split: str):
    from lipkeras.preprocess.labels import parse_ravdess

    paths, labels = [], []
    for line in (RAVDESS_SPLITS / f"{split}.txt").read_text().split():
        p = root / f"{line}.wav"
        paths.append(str(p))
        labels.append(parse_ravdess(p)["emotion"])
    return paths, labels


def audio_matrix(paths, cache):
    from lipkeras.emotion import features as F

    def compute():
        t0 = time.perf_counter()
        X = np.stack([F.audio_features(F.load_audio(p)) for p in paths])
        return {"X": X, "seconds": np.array(time.perf_counter() - t0)}
    return _cached(cache, "audio", [str(Path(p).resolve()) for p in paths], compute)


def fer_matrix(paths, cache):
    """Pooled face features of FER images (upscaled), NaN rows where no face was found."""
    import cv2

    from lipkeras.emotion import features as F
    from lipkeras.preprocess.landmarks import FaceLandmarker

    def compute():
        X = np.full((len(paths), len(F.FACE_FEATURES)), np.nan, np.float32)
        t0 = time.perf_counter()
        with FaceLandmarker(video=False, max_faces=1, blendshapes=True) as lm:
            for i, p in enumerate(paths):
                x = F.image_face_features(lm, cv2.imread(str(p), cv2.IMREAD_GRAYSCALE))
                if x is not None:
                    X[i] = x
                if (i + 1) % 1000 == 0:
                    print(f"  faces {i + 1}/{len(paths)}", flush=True)
        return {"X": X, "seconds": np.array(time.perf_counter() - t0)}
    return _cached(cache, "fer", [str(Path(p).resolve()) for p in paths], compute)


def fit_predict(kind: str, labels, X, y, X_val, y_val, X_test, seed: int = 0) -> dict:
    """Fit one baseline (choices on the validation set), then ``proba`` on ``X_test`` and timings."""
    from lipkeras.models import classical

    info = {}
    if kind == "cnn":
        t0 = time.perf_counter()
        model = classical.pooled_cnn(labels, X)
        classical.fit_cnn(model, X, y, X_val, y_val, epochs=80, batch_size=32, seed=seed)
        info["train_seconds"] = time.perf_counter() - t0
        predict = lambda Z: np.asarray(model(np.asarray(Z, np.float32), training=False))  # noqa: E731
        info["epochs_run"] = len(model.history.history["loss"]) if model.history else None
    else:
        params = {}
        if kind == "svm":  # C on the validation set, then the model of that C
            best = max(SVM_C, key=lambda C: np.mean(
                classical.ClassicalEmotion("svm", labels, seed=seed, C=C).fit(X, y).predict_proba(X_val).argmax(1)
                == y_val))
            params["C"] = info["C"] = best
        t0 = time.perf_counter()
        model = classical.ClassicalEmotion(kind, labels, seed=seed, **params).fit(X, y)
        info["train_seconds"] = time.perf_counter() - t0
        predict = model.predict_proba
    predict(X_test[:8])  # warm
    t0 = time.perf_counter()
    proba = predict(X_test)
    info["classifier_clips_per_second"] = len(X_test) / max(time.perf_counter() - t0, 1e-9)
    info["proba"], info["predict"] = proba, predict
    return info


def _row(info, sc, extra=None):
    out = {**sc, "train_seconds": round(info["train_seconds"], 2),
           "classifier_clips_per_second": round(info["classifier_clips_per_second"], 1)}
    for k in ("C", "epochs_run"):
        if info.get(k) is not None:
            out[k] = info[k]
    return {**out, **(extra or {})}


def print_table(title: str, rows: dict, cols=("accuracy", "macro_f1", "train_seconds", "classifier_clips_per_second")):
    print(f"\n{title}")
    heads = ["model"] + [c.replace("classifier_clips_per_second", "clips/s").replace("train_seconds", "train s")
                         for c in cols]
    print("  " + " | ".join(f"{h:>14}" for h in heads))
    for name, r in rows.items():
        vals = [r.get(c, "") for c in cols]
        print("  " + " | ".join(f"{v:>14}" for v in [name] + [f"{v:.4g}" if isinstance(v, float) else str(v)
                                                               for v in vals]))


# ------------------------------------------------------------------------------------ the classical part

@part("classical")
def classical_part(args) -> dict:
    from lipkeras.emotion import features as F
    from lipkeras.models import classical
    from lipkeras.preprocess.labels import EMOTIONS
    from lipkeras.records.image_folder import stratified_split
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import load_split

    cache = Path(args.cache)
    out = {"kinds": {"gnb": "GaussianNB", "lda": "LDA (lsqr, Ledoit-Wolf shrinkage)",
                     "svm": f"linear SVM, Platt-calibrated (3-fold), C from {list(SVM_C)} on validation",
                     "cnn": "PooledFeatureCNN (Conv1D 32, 64 along the features, stats as channels; flatten; dense 64), Adam, early stopping on validation"},
           "features": {"audio": f"{len(F.AUDIO_FEATURES)}: mean/std/range of {F.N_MFCC} MFCC + deltas + "
                                 "delta-deltas (64 mel bands, 25 ms / 10 ms)",
                        "face": f"{len(F.FACE_FEATURES)}: mean/std/range of {(len(F.FACE_FRAME_FEATURES) - 52) // 2} "
                                "normalised landmarks (x, y) + 52 blendshapes"}}
    # (a) audio ------------------------------------------------------------------------------------
    root = Path(args.ravdess)
    splits = {s: ravdess_items(root, s) for s in ("train", "val", "test")}
    alabels = tuple(e for e in EMOTIONS if e in set(splits["train"][1]))
    aidx = {n: i for i, n in enumerate(alabels)}
    A = {}
    for s, (paths, names) in splits.items():
        feats = audio_matrix(paths, cache)
        A[s] = (feats["X"], np.array([aidx[n] for n in names]))
        print(f"audio {s}: {len(paths)} utterances", flush=True)
    # end-to-end rate: decode + features of 40 test utterances
    t0 = time.perf_counter()
    for p in splits["test"][0][:40]:
        F.audio_features(F.load_audio(p))
    feature_rate = 40 / (time.perf_counter() - t0)
    audio = {"labels": list(alabels), "train": "actors 01-14", "choices": "actors 15-16", "test": "actors 17-20",
             "feature_clips_per_second": round(feature_rate, 1), "models": {}}
    audio_models = {}
    for kind in KINDS:
        info = fit_predict(kind, alabels, A["train"][0], A["train"][1], A["val"][0], A["val"][1], A["test"][0])
        sc = scores(A["test"][1], info["proba"].argmax(1), len(alabels))
        e2e = 1.0 / (1.0 / feature_rate + 1.0 / info["classifier_clips_per_second"])
        audio["models"][kind] = _row(info, sc, {"end_to_end_clips_per_second": round(e2e, 1)})
        audio_models[kind] = info["predict"]
    audio["sizes"] = {s: int(len(A[s][1])) for s in A}
    print_table("(a) audio: RAVDESS speech, pooled MFCC, test actors 17-20 (8 classes)", audio["models"])
    out["audio"] = audio

    # (b) face -------------------------------------------------------------------------------------
    flabels, (tr_paths, tr_ids), (va_paths, va_ids), _, dropped = load_split(EmotionConfig(data=args.fer))
    flabels = tuple(flabels)
    split_train_faces = len(tr_paths)
    if args.fer_train_faces and args.fer_train_faces < len(tr_paths):
        _, keep = stratified_split([flabels[i] for i in tr_ids], args.fer_train_faces / len(tr_paths), 1)
        keep = np.sort(keep)
        tr_paths, tr_ids = [tr_paths[i] for i in keep], [tr_ids[i] for i in keep]
    tr_ids, va_ids = np.array(tr_ids), np.array(va_ids)
    print(f"face: {len(tr_paths)} training faces, {len(va_paths)} validation faces", flush=True)
    ftr, fva = fer_matrix(tr_paths, cache), fer_matrix(va_paths, cache)
    ok_tr, ok_va = ~np.isnan(ftr["X"][:, 0]), ~np.isnan(fva["X"][:, 0])
    Xtr, ytr = ftr["X"][ok_tr], tr_ids[ok_tr]
    fit_idx, hold_idx = stratified_split([flabels[i] for i in ytr], 0.1, 2)
    Xva, yva = fva["X"][ok_va], va_ids[ok_va]
    face = {"labels": list(flabels), "train_faces_sampled": len(tr_paths),
            "train_sample": f"stratified (seed 1) {len(tr_paths)} of the split's {split_train_faces} training faces; "
                            "10 % of the detected ones (seed 2) held out for the choices",
            "validation_faces": len(va_paths), "validation_dropped_as_copies": int(dropped),
            "detection_rate_train": round(float(ok_tr.mean()), 4),
            "detection_rate_validation": round(float(ok_va.mean()), 4),
            "upscale": "48 -> 192 px bicubic",
            "feature_faces_per_second": round(float((len(tr_paths) + len(va_paths))
                                                    / (float(ftr["seconds"]) + float(fva["seconds"]))), 1),
            "models": {}}
    face_models = {}
    for kind in KINDS:
        info = fit_predict(kind, flabels, Xtr[fit_idx], ytr[fit_idx], Xtr[hold_idx], ytr[hold_idx], Xva)
        sc = scores(yva, info["proba"].argmax(1), len(flabels))
        all_acc = float(np.sum(info["proba"].argmax(1) == yva)) / len(va_paths)
        face["models"][kind] = _row(info, sc, {"accuracy_all_faces_undetected_wrong": round(all_acc, 4)})
        face_models[kind] = info["predict"]
    print_table(f"(b) face: FER2013 validation ({int(ok_va.sum())} of {len(va_paths)} faces detected, "
                f"{ok_va.mean():.1%}), pooled landmarks + blendshapes, 7 classes, trained on "
                f"{len(fit_idx)} detected training faces", face["models"])
    out["face"] = face

    # (c) label-matched pairs ------------------------------------------------------------------------
    shared = tuple(n for n in alabels if n in set(flabels))
    rng = np.random.default_rng(0)

    def make_pairs(audio_X, audio_y, face_X, face_y, per):
        ai, fi = [], []
        by_label = {n: np.flatnonzero(face_y == flabels.index(n)) for n in shared}
        for i, a in enumerate(audio_y):
            name = alabels[a]
            if name not in by_label:
                continue
            pool_ = by_label[name]
            picks = rng.choice(pool_, size=per, replace=len(pool_) < per)
            ai += [i] * per
            fi += picks.tolist()
        ai, fi = np.array(ai), np.array(fi)
        y = np.array([shared.index(alabels[audio_y[i]]) for i in ai])
        return audio_X[ai], face_X[fi], y

    per = args.pairs_per_utterance
    Xa_tr, Xf_tr, yp_tr = make_pairs(A["train"][0], A["train"][1], Xtr, ytr, per)
    Xa_va, Xf_va, yp_va = make_pairs(A["val"][0], A["val"][1], Xtr[hold_idx], ytr[hold_idx], per)
    Xa_te, Xf_te, yp_te = make_pairs(A["test"][0], A["test"][1], Xva, yva, per)
    pairs = {"name": "label-matched pairs", "labels": list(shared), "pairs_per_utterance": per,
             "train_pairs": int(len(yp_tr)), "choice_pairs": int(len(yp_va)), "test_pairs": int(len(yp_te)),
             "train": "RAVDESS actors 01-14 x FER training-sample faces",
             "choices": "actors 15-16 x held-out training faces",
             "test": "actors 17-20 x FER validation faces", "models": {}}
    early_models = {}
    for kind in KINDS:
        stat = 3 if kind == "cnn" else None
        ia = fit_predict(kind, shared, Xa_tr, yp_tr, Xa_va, yp_va, Xa_te)
        if_ = fit_predict(kind, shared, Xf_tr, yp_tr, Xf_va, yp_va, Xf_te)
        ie = fit_predict(kind, shared, classical.early_fusion(Xa_tr, Xf_tr, num_stats=stat), yp_tr,
                         classical.early_fusion(Xa_va, Xf_va, num_stats=stat), yp_va,
                         classical.early_fusion(Xa_te, Xf_te, num_stats=stat))
        early_models[kind] = (ie["predict"], stat)
        rows = {"audio": scores(yp_te, ia["proba"].argmax(1), len(shared)),
                "face": scores(yp_te, if_["proba"].argmax(1), len(shared)),
                "early": {**scores(yp_te, ie["proba"].argmax(1), len(shared)),
                          "train_seconds": round(ie["train_seconds"], 2)}}
        for rule in classical.FUSION_RULES:
            fused, _ = classical.late_fusion(ia["proba"], shared, if_["proba"], shared, rule)
            rows[f"late_{rule}"] = scores(yp_te, fused.argmax(1), len(shared))
        pairs["models"][kind] = rows
    print(f"\n(c) label-matched pairs (not audio-visual recordings): {len(yp_te)} test pairs, "
          f"{len(shared)} emotions; accuracy / macro-F1")
    streams = ("audio", "face", "early", "late_mean", "late_product")
    print("  " + " | ".join(f"{h:>14}" for h in ("model",) + streams))
    for kind, rows in pairs["models"].items():
        print("  " + " | ".join(f"{v:>14}" for v in [kind] + [f"{rows[s]['accuracy']:.3f} / {rows[s]['macro_f1']:.3f}"
                                                              for s in streams]))
    out["label_matched_pairs"] = pairs

    # (d) CREMA-D ----------------------------------------------------------------------------------
    cremad = Path(args.cremad)
    if cremad.is_dir():
        out["cremad"] = cremad_figures(cremad, alabels, flabels, shared, audio_models, face_models, early_models)
    return out


def cremad_frames(path: str):
    """Per-frame face features (each frame a one-frame clip) and the clip's pooled audio features."""
    from lipkeras.emotion import features as F
    from lipkeras.preprocess import video as vid
    from lipkeras.preprocess.landmarks import FaceLandmarker

    reader = vid.VideoReader(path, 25.0, audio=True, audio_rate=16000)
    rows, total = [], 0
    with FaceLandmarker(video=True, max_faces=1, blendshapes=True) as lm:
        for i, rgb in enumerate(reader):
            total += 1
            found = F.detect_face(lm, rgb, int(round(i * 40.0)))
            if found is not None:
                rows.append(F.face_features(found[0][None], found[1][None]))
    return np.stack(rows) if rows else np.zeros((0, len(F.FACE_FEATURES)), np.float32), total, \
        F.audio_features(reader.audio)


def cremad_figures(cremad: Path, alabels, flabels, shared, audio_models, face_models, early_models) -> dict:
    from lipkeras.emotion import features as F
    from lipkeras.models import classical
    from lipkeras.preprocess.labels import parse_cremad

    clips = sorted(cremad.glob("*.flv"))
    res = {"labels": list(CREMAD_LABELS), "mapping": "calm -> neutral; surprise dropped; renormalised",
           "clips": {}, "accuracy": {}}
    data = []
    for c in clips:
        frames, total, a = cremad_frames(str(c))
        data.append((c, parse_cremad(c)["emotion"], frames, total, a))
    correct = {}
    for c, truth, frames, total, a in data:
        row = {"truth": truth, "frames": total, "face_frames": int(len(frames))}
        for kind in KINDS:
            pa = classical.restrict(audio_models[kind](a[None]), alabels, CREMAD_LABELS, TO_CREMAD)
            preds = {"audio": pa}
            if len(frames):
                pf = classical.restrict(face_models[kind](frames).mean(0, keepdims=True), flabels, CREMAD_LABELS)
                preds["face"] = pf
                for rule in classical.FUSION_RULES:
                    preds[f"late_{rule}"] = classical.late_fusion(pa, CREMAD_LABELS, pf, CREMAD_LABELS, rule)[0]
                early, stat = early_models[kind]
                both = classical.early_fusion(np.repeat(a[None], len(frames), 0), frames, num_stats=stat)
                preds["early"] = classical.restrict(early(both).mean(0, keepdims=True), shared, CREMAD_LABELS)
            row[kind] = {k: {"label": CREMAD_LABELS[int(p.argmax())], "p": round(float(p.max()), 3)}
                         for k, p in preds.items()}
            for k, v in row[kind].items():
                correct.setdefault(kind, {}).setdefault(k, []).append(v["label"] == truth)
        res["clips"][c.stem] = row
    res["accuracy"] = {kind: {k: f"{sum(v)}/{len(v)}" for k, v in d.items()} for kind, d in correct.items()}
    audio_only = {}
    for m in sorted(cremad.glob("*.mp3")):
        a = F.audio_features(F.load_audio(m))
        pa = classical.restrict(audio_models["svm"](a[None]), alabels, CREMAD_LABELS, TO_CREMAD)
        audio_only[m.stem] = {"truth": parse_cremad(m)["emotion"], "svm": CREMAD_LABELS[int(pa.argmax())],
                              "p": round(float(pa.max()), 3)}
    res["actor_1002_audio_only_svm"] = audio_only
    print("\n(d) CREMA-D actor 1001 (real audio-visual clips), predicted label (probability) per stream, "
          "6 labels")
    streams = ("audio", "face", "early", "late_mean", "late_product")
    for kind in KINDS:
        print(f"  {kind}:")
        print("    " + " | ".join(f"{h:>16}" for h in ("clip", "truth") + streams))
        for stem, row in res["clips"].items():
            cells = [f"{row[kind][s]['label']} ({row[kind][s]['p']:.2f})" if s in row[kind] else "-" for s in streams]
            print("    " + " | ".join(f"{v:>16}" for v in [stem, row["truth"]] + cells))
        print("    " + " | ".join(f"{v:>16}" for v in ["correct", ""] + [res["accuracy"][kind].get(s, "-")
                                                                         for s in streams]))
    n_ok = sum(v["truth"] == v["svm"] for v in audio_only.values())
    print(f"  actor 1002 (.mp3, audio only, svm): {n_ok}/{len(audio_only)} correct: "
          + ", ".join(f"{v['truth']}->{v['svm']}" for v in audio_only.values()))
    return res


# ------------------------------------------------------------------------------------------------ main

def write_part(path: Path, name: str, figures: dict) -> None:
    """Update only ``name`` in the shared JSON: re-read it just before an atomic replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.is_file() else {}
    current["benchmark"] = "av_emotion"
    current[name] = {**figures, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": host.describe()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(current, indent=1) + "\n")
    os.replace(tmp, path)


@part("crnn")
def crnn_part(args) -> dict:
    """The paper's CRNN speech stream (the shipped ``--speech-model``) on the same held-out actors as
    the classical audio models: accuracy, macro-F1, its recorded training time, inference clips/s."""
    from lipkeras.emotion.audio import SpeechEmotionReader

    reader = SpeechEmotionReader(args.speech_model)
    paths, labels = ravdess_items(Path(args.ravdess), "test")
    t0 = time.perf_counter()
    waves = [reader.load_audio(p) for p in paths]
    load_s = time.perf_counter() - t0
    reader.predict_waveforms(waves[:32])  # graph tracing, once
    t0 = time.perf_counter()
    probs = reader.predict_waveforms(waves, batch_size=32)
    model_s = time.perf_counter() - t0
    y_true = [reader.labels.index(label) for label in labels]
    sc = scores(y_true, np.argmax(probs, 1), len(reader.labels))
    training = reader.meta.get("training", {})
    row = {**sc, "train_seconds": training.get("seconds"), "training": training,
           "model_clips_per_second": round(len(paths) / model_s, 1),
           "end_to_end_clips_per_second": round(len(paths) / (model_s + load_s), 1)}
    print_table("audio, CRNN (actors 17-20)", {"crnn": {**row, "classifier_clips_per_second": row["model_clips_per_second"]}})
    print(f"  end to end (decode + centred {reader.max_seconds:g} s window + model): "
          f"{row['end_to_end_clips_per_second']} clips/s", flush=True)
    return {"model": args.speech_model, "test": "RAVDESS actors 17-20", "batch_size": 32, "crnn": row}


# the paper's deep path (CRNN speech stream, face streams, BEL / MoBEL): benchmarks/av_emotion_deep.py
sys.path.insert(0, str(Path(__file__).resolve().parent))
from av_emotion_deep import part_deep, part_fusion  # noqa: E402

PARTS["deep"], PARTS["fusion"] = part_deep, part_fusion


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="classical,crnn,deep,fusion", help=f"comma-separated, of: {', '.join(PARTS)}")
    p.add_argument("--ravdess", default=str(SHARED / "ravdess_speech"))
    p.add_argument("--fer", default=str(SHARED / "fer2013" / "train"))
    p.add_argument("--cremad", default=str(SHARED / "cremad_sample"))
    p.add_argument("--fer-train-faces", type=int, default=4000,
                   help="stratified sample of FER training faces to featurise (0: all)")
    p.add_argument("--pairs-per-utterance", type=int, default=3)
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "lipkeras" / "av_emotion"))
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "av_emotion.json"))
    p.add_argument("--speech-model", default="speech_emotion", help="deep/fusion: the speech stream")
    p.add_argument("--face-model", default="fer_emotion", help="deep/fusion: the face stream")
    p.add_argument("--av-model", default="av_emotion", help="deep/fusion: the audio-visual model")
    args = p.parse_args(argv)
    names = [n for n in args.parts.split(",") if n]
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        print(f"unknown part(s) {unknown} (known: {', '.join(PARTS)})", file=sys.stderr)
        return 2
    for d in (args.ravdess, args.fer):
        if not Path(d).is_dir():
            print(f"{d}: not found", file=sys.stderr)
            return 2
    for name in names:
        t0 = time.perf_counter()
        figures = PARTS[name](args)
        figures["seconds"] = round(time.perf_counter() - t0, 1)
        write_part(Path(args.json), name, figures)
        print(f"\n{name}: {figures['seconds']} s; wrote {args.json} [{name}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
