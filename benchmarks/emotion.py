"""The facial-emotion models on FER2013, measured on the emotion stage's validation split.

    python benchmarks/emotion.py [--data ../shared/data/fer2013/train] [--model fer_emotion]
                                 [--subset 6000] [--epochs 4] [--tune-trials 3] [--tune-epochs 2]
                                 [--skip-training] [--framing] [--work DIR] [--out benchmarks/results/emotion.json]

The validation split is the stage's own: a seeded (0), stratified 10 % of the folder (2,872 of
FER2013's 28,709 training faces), less the 189 of them whose pixels exactly equal a training
face's (the folder holds such copies; a model scores ~90 % on them): 2,683 faces. Nothing here
is FER2013's public/private test set.

1. The shipped model: accuracy and macro-F1 on that split (with the test-time views its
   ``lipkeras.json`` names), its training time per epoch (from its history), single-view
   inference faces/s at batch 64 (Keras ``predict_on_batch`` with and without BatchNorm folded,
   the FLOPs per face that bound it, and the exported SavedModel's ``serving_default``, median
   of 20 batches after warm-up), the same model computing in bfloat16 (``--precision
   bfloat16``): its faces/s and scores; then accuracy, macro-F1 and faces/s for 1, 2, 5 and 10
   test-time views (``--views``); and the newest TFLite export beside it (``tflite/N/``, the
   shipped int8 one): its scores with 1 and 10 views and its faces/s at batch 64.
2. Same-budget comparison (unless ``--skip-training``): each variant trained from scratch on the
   same stratified ``--subset`` of the training faces for ``--epochs`` epochs (same seed and
   augmentation), then scored on the full validation split: the design's CNN with and without
   mean-face subtraction, its one-conv-per-block form, and the keras-tuner pick
   (``--tune-trials`` random-search trials of ``--tune-epochs`` epochs on the same subset, then
   trained for ``--epochs``). Short budgets rank the variants; they are not converged scores.
3. ``--framing``: where FER2013's crops sit in lipkeras' face coordinates (MediaPipe landmarks
   on FER faces → the similarity transform to the reference face → the crop's side and centre):
   the ``face_side`` / ``face_center_y`` with which video faces are framed like FER2013's.

Prints the figures and writes the JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]


def scores(model_path: str, split_json: Path, precision: str = "float32", views: int | None = None) -> dict:
    from lipkeras.emotion import EmotionReader
    from lipkeras.evaluate_emotion import evaluate_emotion

    m = evaluate_emotion(EmotionReader(model_path, precision=precision, views=views), str(split_json))
    main = m[m["main"]] if "main" in m else m
    return {"accuracy": round(main["accuracy"], 4), "macro_f1": round(main["macro"]["f1"], 4),
            "weighted_f1": round(main["weighted"]["f1"], 4), "faces": main["samples"]}


def flops_per_face(model) -> float:
    """Multiply-adds × 2 of the convolutions and dense layers for one face (what bounds throughput:
    a CPU's peak FLOP/s divided by this is the most faces/s it can do)."""
    import keras

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw, c_in, _ = layer.kernel.shape
            total += 2.0 * h * w * kh * kw * c_in * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return total


def rate(fn, batch: int = 64, batches: int = 20) -> float:
    """Faces per second of ``fn`` (one batch): the median of ``batches`` calls after 3 warm-ups."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(batch / float(np.median(times)), 1)


def speed(model_name: str, faces: np.ndarray) -> dict:
    """Single-view faces/s (``views=1``) of the Keras model (folded and not, float32 and bfloat16)
    and of the newest exported SavedModel."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()
    from lipkeras.emotion import EmotionReader

    reader = EmotionReader(model_name, views=1)
    x = (faces[:64].astype(np.float32) / 255.0)
    out = {"batch": 64, "parameters": int(reader.model.count_params())}

    out["keras_faces_per_s"] = rate(lambda: reader.model.predict_on_batch(x))  # BatchNorm folded (the reader's)
    import keras

    unfolded = keras.saving.load_model(reader.path, compile=False)
    out["keras_unfolded_faces_per_s"] = rate(lambda: unfolded.predict_on_batch(x))
    out["gflop_per_face"] = round(flops_per_face(reader.model) / 1e9, 4)
    fast = EmotionReader(model_name, precision="bfloat16", views=1)
    out["keras_bfloat16_faces_per_s"] = rate(lambda: fast.model.predict_on_batch(x))
    versions = sorted((p for p in reader.path.parent.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    if versions:
        loaded = tf.saved_model.load(str(versions[-1]))
        fn, xt = loaded.signatures["serving_default"], tf.constant(x)
        out["savedmodel_faces_per_s"] = rate(lambda: fn(faces=xt))
        meta_file = versions[-1] / "assets.extra" / "lipkeras.json"
        if meta_file.is_file():
            served = json.loads(meta_file.read_text())
            out["savedmodel"] = {"version": int(versions[-1].name), "precision": served.get("precision"),
                                 "views": served.get("views", 1)}
    return out


def test_time_views(model_name: str, split_json: Path, faces: np.ndarray, counts=(1, 2, 5, 10)) -> dict:
    """Accuracy / macro-F1 (float32) and faces/s at batch 64 (float32 and bfloat16 Keras, BatchNorm
    folded) for each number of test-time views (``FaceViews``: mirror, 2-pixel shifts)."""
    from lipkeras.emotion import EmotionReader

    x = (faces[:64].astype(np.float32) / 255.0)
    readers = {p: EmotionReader(model_name, precision=p) for p in ("float32", "bfloat16")}  # one load each
    out = {}
    for views in counts:
        row = scores(model_name, split_json, views=views)
        for precision, reader in readers.items():
            model = reader.model_for(views)
            row[f"{precision}_faces_per_s"] = rate(lambda: model.predict_on_batch(x), batches=10)
        out[str(views)] = row
        print(f"  views {views:2d}: accuracy {row['accuracy']:.4f}, macro-F1 {row['macro_f1']:.4f}; "
              f"{row['float32_faces_per_s']} faces/s float32, {row['bfloat16_faces_per_s']} bfloat16", flush=True)
    return out


def tflite_exports(model_dir: Path, split_json: Path, faces: np.ndarray) -> dict:
    """The newest TFLite export under ``model_dir/tflite/`` (e.g. the shipped int8 one): accuracy /
    macro-F1 with 1 and 10 test-time views (views outside the flatbuffer, ``TFLiteFaceClassifier``)
    and faces/s at batch 64, 1 view, all cores."""
    from lipkeras.emotion.tflite_runtime import TFLiteFaceClassifier

    base = model_dir / "tflite"
    versions = sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)) if base.is_dir() else []
    if not versions:
        return {}
    path = versions[-1] / "model.tflite"
    model = TFLiteFaceClassifier(path)
    x = faces[:64].astype(np.float32) / 255.0
    out = {"path": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
           "precision": model.meta.get("precision", "float32"), "megabytes": round(path.stat().st_size / 1e6, 2),
           "faces_per_s": rate(lambda: model.predict_on_batch(x)),
           "views_1": scores(str(path), split_json, views=1), "views_10": scores(str(path), split_json, views=10)}
    out["views_10"]["faces_per_s"] = rate(lambda: model.with_views(10).predict_on_batch(x), batches=10)
    print(f"TFLite {out['path']} ({out['precision']}, {out['megabytes']} MB): {out['faces_per_s']} faces/s at batch 64; "
          f"accuracy {out['views_1']['accuracy']:.4f} / macro-F1 {out['views_1']['macro_f1']:.4f} (1 view), "
          f"{out['views_10']['accuracy']:.4f} / {out['views_10']['macro_f1']:.4f} (10 views, "
          f"{out['views_10']['faces_per_s']} faces/s)", flush=True)
    return out


def framing(data: str, every: int = 120) -> dict:
    """Where FER2013's crops sit in lipkeras' face coordinates: MediaPipe landmarks on every
    ``every``-th FER face (upscaled to 192 px), the similarity transform to the reference face
    (as ``lipkeras preprocess``), and the crop's side and centre in reference units, i.e. the
    ``face_side`` / ``face_center_y`` that make video faces framed like FER2013's."""
    import cv2

    from lipkeras.preprocess import landmarks as lmk
    from lipkeras.preprocess.align import to_reference

    files = sorted(Path(data).glob("*/*.png"))[::every]
    sides, cx, cy = [], [], []
    with lmk.FaceLandmarker(video=False, max_faces=1) as landmarker:
        for f in files:
            gray = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            rgb = cv2.cvtColor(cv2.resize(gray, (192, 192), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
            points = landmarker.detect(rgb)
            if points is None:
                continue
            a = to_reference(points[None].astype(np.float64))[0]
            sides.append(192 * float(np.sqrt(abs(np.linalg.det(a[:, :2])))))
            centre = a @ np.array([96.0, 96.0, 1.0])
            cx.append(float(centre[0]))
            cy.append(float(centre[1]))

    def stats(v):
        return {"median": round(float(np.median(v)), 3), "p25": round(float(np.percentile(v, 25)), 3),
                "p75": round(float(np.percentile(v, 75)), 3)}
    return {"faces": len(files), "landmarks_found": len(sides), "face_side": stats(sides),
            "face_center_x": stats(cx), "face_center_y": stats(cy)}


def history_seconds(model_dir: Path) -> dict:
    """Training time of the shipped model over all its runs (``history_v*.csv``), and per run (the
    runs may differ in width and precision)."""
    rows, per_run = [], {}
    for f in sorted(model_dir.glob("history*.csv")):
        run = list(csv.DictReader(f.open()))
        rows += run
        secs = [float(r["epoch_seconds"]) for r in run if r.get("epoch_seconds")]
        per_run[f.stem] = {"epochs": len(run), "seconds_per_epoch_median": round(float(np.median(secs)), 1)
                           if secs else None, "train_seconds": round(sum(secs), 1)}
    secs = [float(r["epoch_seconds"]) for r in rows if r.get("epoch_seconds")]
    best = max((float(r["val_accuracy"]) for r in rows if r.get("val_accuracy")), default=None)
    return {"epochs": len(rows), "seconds_per_epoch_median": round(float(np.median(secs)), 1) if secs else None,
            "train_seconds_total": round(sum(secs), 1), "best_val_accuracy_in_history": best, "runs": per_run}


def train_variant(name: str, base, out_root: Path, split_json: Path, **fields) -> dict:
    import dataclasses

    from lipkeras.train.emotion import train

    cfg = dataclasses.replace(base, out=str(out_root / name), **fields)
    summary = train(cfg)
    row = {"variant": name, "epochs": summary["epochs_run"], "seconds_per_epoch": summary["seconds_per_epoch"],
           "parameters": summary["parameters"], "train_faces": summary["train_faces"],
           **scores(str(out_root / name / "best.keras"), split_json)}
    print(f"{name:26s} acc {row['accuracy']:.4f}  macro-F1 {row['macro_f1']:.4f}  "
          f"{row['seconds_per_epoch']:6.1f} s/epoch  {row['parameters']:,} params", flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013" / "train"))
    p.add_argument("--model", default="fer_emotion")
    p.add_argument("--subset", type=int, default=6000, help="training faces of each same-budget variant")
    p.add_argument("--epochs", type=int, default=4, help="epochs of each same-budget variant")
    p.add_argument("--tune-trials", type=int, default=3)
    p.add_argument("--tune-epochs", type=int, default=2)
    p.add_argument("--skip-training", action="store_true", help="only the shipped model's scores and speed")
    p.add_argument("--framing", action="store_true", help="also measure FER2013's framing in lipkeras face units")
    p.add_argument("--work", default=None, help="folder for the variants' runs (default: a temporary one)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "emotion.json"))
    args = p.parse_args()

    import cv2

    from lipkeras.lipreader import resolve
    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import load_split

    base = EmotionConfig(data=args.data, max_train_faces=args.subset, epochs=args.epochs)
    labels, _, (val_paths, _), _, dropped = load_split(EmotionConfig(data=args.data))
    work = Path(args.work or tempfile.mkdtemp(prefix="lipkeras-emotion-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    split_json = work / "split.json"
    split_json.write_text(json.dumps({"labels": labels, "val": sorted(val_paths)}))
    results = {"machine": host.describe(),
               "date": time.strftime("%Y-%m-%d"), "data": args.data,
               "validation_split": f"stratified 10 % (seed 0): {len(val_paths)} faces, {dropped} more left out "
                                   "as exact copies of training faces"}

    model_dir = resolve(args.model).parent
    shipped = {"model": args.model, **scores(args.model, split_json), **history_seconds(model_dir)}
    faces = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in sorted(val_paths)[:64]])[..., None]
    shipped["inference"] = speed(args.model, faces)
    shipped["bfloat16"] = scores(args.model, split_json, precision="bfloat16")
    shipped["default_views"] = json.loads((model_dir / "lipkeras.json").read_text()).get("views", 1) if (
        model_dir / "lipkeras.json").is_file() else 1
    results["shipped"] = shipped
    print(f"shipped {args.model}: accuracy {shipped['accuracy']:.4f}, macro-F1 {shipped['macro_f1']:.4f} on "
          f"{shipped['faces']} validation faces; {shipped['seconds_per_epoch_median']} s/epoch over "
          f"{shipped['epochs']} epochs; {shipped['inference']['keras_faces_per_s']} faces/s (Keras, BatchNorm folded; "
          f"{shipped['inference']['keras_unfolded_faces_per_s']} unfolded; "
          f"{shipped['inference']['gflop_per_face']} GFLOP per face), "
          f"{shipped['inference'].get('savedmodel_faces_per_s')} faces/s (SavedModel) at batch 64; bfloat16: "
          f"{shipped['inference']['keras_bfloat16_faces_per_s']} faces/s, "
          f"accuracy {shipped['bfloat16']['accuracy']:.4f}, macro-F1 {shipped['bfloat16']['macro_f1']:.4f} "
          f"(scores with the model's default {shipped['default_views']} test-time view(s))", flush=True)
    print("test-time views (accuracy float32; faces/s Keras at batch 64):", flush=True)
    shipped["test_time_views"] = test_time_views(args.model, split_json, faces)
    shipped["tflite"] = tflite_exports(model_dir, split_json, faces)

    if args.framing:
        f = results["framing"] = framing(args.data)
        used = json.loads((model_dir / "lipkeras.json").read_text())
        f["shipped_model_uses"] = {k: used.get(k) for k in ("face_side", "face_center_y")}
        print(f"FER2013 framing in lipkeras face units ({f['landmarks_found']} of {f['faces']} faces with landmarks): "
              f"face_side {f['face_side']['median']} (IQR {f['face_side']['p25']}-{f['face_side']['p75']}), "
              f"face_center_y {f['face_center_y']['median']} (IQR {f['face_center_y']['p25']}-"
              f"{f['face_center_y']['p75']}); the shipped model uses {f['shipped_model_uses']}", flush=True)

    if not args.skip_training:
        from lipkeras.train.emotion import train

        rows = [train_variant("design_mean_face", base, work, split_json),
                train_variant("design_no_mean_face", base, work, split_json, mean_face=False),
                train_variant("design_1_conv_per_block", base, work, split_json, convs_per_block=1)]
        import dataclasses

        t0 = time.perf_counter()
        tuned = train(dataclasses.replace(base, out=str(work / "tuner"), tune=args.tune_trials,
                                          tune_epochs=args.tune_epochs))
        tuner_seconds = time.perf_counter() - t0
        row = train_variant("tuned", base, work, split_json, from_tuner=str(work / "tuner"))
        row.update(tuner_trials=tuned["tuner_trials"], tuner_seconds=round(tuner_seconds, 1),
                   best_hyperparameters=tuned["best_hyperparameters"],
                   trials=[{"hyperparameters": t["hyperparameters"], "val_accuracy": t["val_accuracy"]}
                           for t in tuned["trials"]])
        rows.append(row)
        results["same_budget"] = {"subset_faces": args.subset, "epochs": args.epochs, "variants": rows}

    out = Path(args.out)
    if args.skip_training and out.is_file():  # keep the last same-budget comparison
        previous = json.loads(out.read_text())
        for key in ("same_budget", "framing"):
            if key in previous and key not in results:
                results[key] = previous[key]
    from lipkeras.records.io import write_json_atomic

    write_json_atomic(out, results)  # makes the folder; atomic
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
