"""Lip readers side by side on GRID speaker 1, same split, same training wall-time budget.

    python benchmarks/grid.py [--data tfrecords/grid_s1] [--minutes 20] [--models lipnet_seed,lipnet_paper,fast]
                              [--shipped saved_models/grid_lipreader]

``--models ""`` re-measures only the shipped model and keeps the earlier side-by-side entries.

Each model is trained from scratch on the committed train split for ``--minutes`` of training
wall time (validation WER on the val split every ``--eval-every`` seconds, not counted), then
scored on the test split (greedy CTC). Also: seconds per training sample, parameters, inference
seconds per 3 s clip (batch 1, warm), the real-time factor of the model alone and with
preprocessing (MediaPipe landmarks + crops, measured on the bundled sample clips), and the
shipped model's test scores: greedy, CTC beam 10, and, when it ships a character LM, its
default LM-fused beam search (LM weight and length bonus: a grid on the validation split). Prints the figures and writes ``benchmarks/results/grid.json``.
Records: ``lipkeras preprocess ../shared/data/grid tfrecords/grid_s1 --dataset grid``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ROOT / "lipkeras" / "splits" / "grid_s1"
BATCH = {"lipnet_seed": 4, "lipnet_paper": 8, "fast": 16}


def score(model, ds):
    from lipkeras.metrics import text_metrics
    from lipkeras.train.callbacks import transcribe_dataset

    t0 = time.perf_counter()
    refs, hyps, _ = transcribe_dataset(model, ds)
    m = text_metrics(refs, hyps)
    m["seconds"] = round(time.perf_counter() - t0, 1)
    return m


def inference_seconds(model, crop: int, repeats: int = 5) -> float:
    x = {"frames": np.random.default_rng(0).random((1, 75, crop, crop, 1)).astype("float32"),
         "frame_lengths": np.array([75], np.int32)}
    model.predict_on_batch(x)  # warm-up / tracing
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.predict_on_batch(x)
    return (time.perf_counter() - t0) / repeats


def preprocess_seconds(clips: int = 10) -> dict:
    from lipkeras.paths import GRID_SAMPLE
    from lipkeras.preprocess import PreprocessConfig
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item

    cfg = PreprocessConfig(rois=("mouth",), workers=1)
    videos = sorted((GRID_SAMPLE / "s1").glob("*.mp4"))[:clips]
    process_video(Item(str(videos[0]), "warm"), cfg)
    t0 = time.perf_counter()
    frames = 0
    for v in videos:
        frames += process_video(Item(str(v), v.stem), cfg)["num_frames"]
    dt = time.perf_counter() - t0
    return {"clips": len(videos), "seconds_per_clip": round(dt / len(videos), 4),
            "video_seconds_per_clip": round(frames / len(videos) / 25.0, 3)}


def run_model(preset: str, data: str, minutes: float, eval_every: float, crop: int) -> dict:
    import keras

    from lipkeras.records import mouth_dataset
    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.lipreading import as_xy, build_and_compile

    keras.utils.set_random_seed(0)
    bs = BATCH.get(preset, 8)
    common = dict(normalization=None, crop_size=crop)
    train = mouth_dataset(data, batch_size=bs, training=True, clip_ids=SPLITS / "train.txt", cache=True, seed=0,
                          repeat=True, **common).map(as_xy)
    val = mouth_dataset(data, batch_size=16, clip_ids=SPLITS / "val.txt", cache=True, **common)
    test = mouth_dataset(data, batch_size=16, clip_ids=SPLITS / "test.txt", **common)
    steps_per_epoch = math.ceil(640 / bs)
    # The schedule assumes ~the budget's worth of steps; it only shapes the learning rate.
    cfg = LipReadingConfig(model=preset, batch_size=bs, epochs=200)
    model = build_and_compile(cfg, steps_per_epoch)
    it = iter(train)
    x, y = next(it)
    model.train_on_batch(x, y)  # build + trace outside the budget
    trained, samples, curve, next_eval = 0.0, 0, [], eval_every
    print(f"[{preset}] {model.count_params():,} parameters, batch {bs}, budget {minutes} min", flush=True)
    while trained < minutes * 60:
        x, y = next(it)
        t0 = time.perf_counter()
        loss = float(model.train_on_batch(x, y))
        trained += time.perf_counter() - t0
        samples += int(x["frames"].shape[0])
        if trained >= next_eval or trained >= minutes * 60:
            m = score(model, val)
            curve.append({"train_seconds": round(trained, 1), "samples": samples, "loss": round(loss, 3),
                          "val_wer": round(m["wer"], 4), "val_cer": round(m["cer"], 4)})
            print(f"[{preset}] {trained / 60:.1f} min, {samples} samples, loss {loss:.2f}, "
                  f"val WER {m['wer']:.4f} CER {m['cer']:.4f}", flush=True)
            next_eval += eval_every
    test_m = score(model, test)
    infer = inference_seconds(model, crop)
    return {
        "model": preset, "parameters": int(model.count_params()), "batch_size": bs,
        "budget_minutes": minutes, "train_seconds": round(trained, 1), "samples_seen": samples,
        "seconds_per_training_sample": round(trained / samples, 4),
        "test_wer": round(test_m["wer"], 4), "test_cer": round(test_m["cer"], 4),
        "test_sentence_accuracy": round(test_m["sentence_accuracy"], 4), "test_clips": test_m["clips"],
        "inference_seconds_per_clip": round(infer, 4), "rtf_model": round(infer / 3.0, 4),
        "val_curve": curve,
    }


def shipped(path: str, data: str) -> dict | None:
    from lipkeras.evaluate import evaluate
    from lipkeras.lipreader import LipReader

    try:
        reader = LipReader(path)
    except FileNotFoundError:
        return None
    keep = ("wer", "cer", "sentence_accuracy", "seconds_per_clip", "beam_width", "lm_weight", "length_bonus")
    m, _ = evaluate(reader, data, ids=SPLITS / "test.txt", beam_width=1)  # greedy
    no_lm = 0.0 if reader.lm is not None else None
    m["beam10"] = {k: v for k, v in evaluate(reader, data, ids=SPLITS / "test.txt", beam_width=10,
                                             lm_weight=no_lm)[0].items() if k in keep}
    if reader.lm is not None:
        # The LM weight and length bonus are chosen on the validation split; the test split scores the choice.
        base, m["lm_val_grid"] = reader.decoding, []
        for lm_weight in (0.2, 0.35, 0.5, 0.8):
            for bonus in (0.0, 0.5, 1.0):
                reader.decoding = dataclasses.replace(base, beam_width=10, lm_weight=lm_weight, length_bonus=bonus)
                v, _ = evaluate(reader, data, ids=SPLITS / "val.txt")
                m["lm_val_grid"].append({k: v[k] for k in keep})
                print(f"  val beam 10, LM {lm_weight}, bonus {bonus}: WER {v['wer']:.4f} CER {v['cer']:.4f}", flush=True)
        reader.decoding = base  # the shipped default (lipkeras.json), scored on the test split:
        m["lm_fusion"] = {k: v for k, v in evaluate(reader, data, ids=SPLITS / "test.txt")[0].items() if k in keep}
    infer = inference_seconds(reader.model, reader.meta["crop_size"])
    m.update(parameters=int(reader.model.count_params()), inference_seconds_per_clip=round(infer, 4),
             rtf_model=round(infer / 3.0, 4))
    return m


def main() -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "tfrecords" / "grid_s1"))
    p.add_argument("--minutes", type=float, default=20.0, help="training wall-time budget per model")
    p.add_argument("--eval-every", type=float, default=300.0, help="seconds of training between val scores")
    p.add_argument("--models", default="lipnet_seed,lipnet_paper,fast")
    p.add_argument("--crop", type=int, default=88)
    p.add_argument("--shipped", default="grid_lipreader")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "grid.json"))
    args = p.parse_args()
    if not Path(args.data).exists():
        print(f"benchmarks/grid.py: {args.data}: no records (run lipkeras preprocess ... --dataset grid first)",
              file=sys.stderr)
        return 2
    pre = preprocess_seconds()
    print(f"preprocessing: {pre['seconds_per_clip']:.3f} s per 3 s clip (RTF {pre['seconds_per_clip'] / 3:.3f})",
          flush=True)
    result = {"benchmark": "grid", "data": args.data, "split": str(SPLITS), "cpus": os.cpu_count(),
              "machine": host.describe(), "date": time.strftime("%Y-%m-%d %H:%M:%S"), "preprocess": pre, "models": [],
              "shipped": None}
    presets = [m for m in args.models.split(",") if m]
    if not presets and Path(args.json).is_file():  # --models "": re-measure the shipped model, keep the rest
        import json

        earlier = json.loads(Path(args.json).read_text())
        result["models"], result["models_date"] = earlier.get("models", []), earlier.get("date")
    for preset in presets:
        r = run_model(preset, args.data, args.minutes, args.eval_every, args.crop)
        r["rtf_with_preprocessing"] = round((r["inference_seconds_per_clip"] + pre["seconds_per_clip"]) / 3.0, 4)
        result["models"].append(r)
        print(f"[{preset}] {r['seconds_per_training_sample']:.3f} s/sample, test WER {r['test_wer']:.4f} "
              f"CER {r['test_cer']:.4f}, {r['inference_seconds_per_clip']:.3f} s/clip, RTF model {r['rtf_model']:.4f}, "
              f"with preprocessing {r['rtf_with_preprocessing']:.3f}", flush=True)
    s = shipped(args.shipped, args.data) if args.shipped else None
    if s:
        s["rtf_with_preprocessing"] = round((s["inference_seconds_per_clip"] + pre["seconds_per_clip"]) / 3.0, 4)
        result["shipped"] = s
        print(f"[shipped {args.shipped}] test WER {s['wer']:.4f} CER {s['cer']:.4f} sentences "
              f"{s['sentence_accuracy']:.3f} (beam 10: WER {s['beam10']['wer']:.4f} CER {s['beam10']['cer']:.4f}), "
              f"RTF model {s['rtf_model']:.4f}, with preprocessing {s['rtf_with_preprocessing']:.3f}", flush=True)
        if "lm_fusion" in s:
            f = s["lm_fusion"]
            print(f"[shipped {args.shipped}, default decoding: CTC beam {f['beam_width']} + LM {f['lm_weight']}, "
                  f"bonus {f['length_bonus']}] test WER {f['wer']:.4f} CER {f['cer']:.4f} sentences "
                  f"{f['sentence_accuracy']:.3f}, {f['seconds_per_clip']:.3f} s/clip", flush=True)
    from lipkeras.records.io import write_json_atomic

    write_json_atomic(args.json, result)  # makes the folder; atomic
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
