"""The cross-modal reader's parts, measured on the GRID s1 split of the LipNet issue.

    python benchmarks/crossmodal.py [--data tfrecords/grid_s1] [--lm runs/grid_lm] [--visual runs/grid_visual]
                                    [--integrated runs/grid_crossmodal] [--lipnet grid_lipreader] [--tune]
                                    [--resnet50] [--ship saved_models/grid_crossmodal]

Scores on the test split: (a) the visual module + CTC only (greedy), (b) the integrated model
without LM fusion, (c) with LM fusion, (d) the LipNet issue's shipped model. ``--tune`` picks
the beam/LM/CTC weights on the *validation* split first (a small grid), then (b) and (c) use
them. Also: the LM's held-out bits per character, the learned WDA weights, training time per
stage (from each run's summary.json), inference seconds and real-time factor, and with
``--resnet50`` the design-size preset's parameters and batch-1 forward / training-step times.
``--ship DIR`` copies the integrated model with its LM and tuned decoding into DIR.
Prints the figures and writes ``benchmarks/results/crossmodal.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ROOT / "lipkeras" / "splits" / "grid_s1"
KEEP = ("wer", "cer", "sentence_accuracy", "clips", "seconds_per_clip", "beam_width", "lm_weight", "ctc_weight")


def run_summary(run: Path) -> dict:
    f = run / "summary.json"
    if not f.exists():
        return {}
    s = json.loads(f.read_text())
    h = run / "history.csv"
    if h.exists():  # a resumed run's summary only covers its last leg: add up the whole history
        import csv

        rows = list(csv.DictReader(h.open()))
        s["epochs_total"] = len(rows)
        s["epoch_seconds_total"] = round(sum(float(r.get("epoch_seconds") or 0) for r in rows), 1)
    return s


def scores(reader, data, ids, **decoding) -> dict:
    from lipkeras.evaluate import evaluate

    m, _ = evaluate(reader, data, ids=ids, batch_size=16, **decoding)
    return {k: m[k] for k in KEEP if k in m}


def tune(reader, data) -> tuple[dict, list]:
    """Beam/LM/CTC weights with the lowest validation WER (ties: lower CER)."""
    trials = []
    for beam in (5,):
        for ctc in (0.0, 0.3, 0.5):
            for lm in (0.0, 0.2, 0.4, 0.6):
                m = scores(reader, data, SPLITS / "val.txt", beam_width=beam, lm_weight=lm, ctc_weight=ctc)
                trials.append(m)
                print(f"  val beam {beam} ctc {ctc} lm {lm}: WER {m['wer']:.4f} CER {m['cer']:.4f}", flush=True)
    with_lm = [t for t in trials if t["lm_weight"] > 0]
    best = min(with_lm, key=lambda t: (t["wer"], t["cer"]))
    best_no_lm = min([t for t in trials if t["lm_weight"] == 0 and t["ctc_weight"] == best["ctc_weight"]],
                     key=lambda t: (t["wer"], t["cer"]))
    pick = lambda t: {"beam_width": t["beam_width"], "lm_weight": t["lm_weight"], "ctc_weight": t["ctc_weight"]}  # noqa: E731
    return {"with_lm": pick(best), "without_lm": pick(best_no_lm)}, trials


def timed_clip(reader, clips: int = 5) -> dict:
    """End-to-end transcription of bundled sample clips (preprocessing + model, LM fusion on)."""
    from lipkeras.paths import GRID_SAMPLE

    videos = sorted((GRID_SAMPLE / "s1").glob("*.mp4"))[:clips]
    reader.transcribe(videos[0])  # warm-up (graph tracing)
    rows = [reader.transcribe(v) for v in videos]
    video_s = sum(r["video_seconds"] for r in rows)
    return {"clips": len(rows), "model_seconds_per_clip": round(sum(r["model_seconds"] for r in rows) / len(rows), 3),
            "preprocess_seconds_per_clip": round(sum(r["preprocess_seconds"] for r in rows) / len(rows), 3),
            "rtf_model": round(sum(r["model_seconds"] for r in rows) / video_s, 4),
            "rtf_end_to_end": round(sum(r["seconds"] for r in rows) / video_s, 4)}


def resnet50_timing(frames: int = 75) -> dict:
    from lipkeras.models import build_crossmodal
    from lipkeras.models.losses import CTCLoss, MaskedCrossEntropy

    t0 = time.perf_counter()
    model = build_crossmodal("resnet50", 40)
    built = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    x = {"frames": rng.random((1, frames, 88, 88, 1)).astype("float32"),
         "frame_lengths": np.array([frames], np.int32), "tokens": rng.integers(1, 38, (1, 30)).astype("int32")}
    y = {"ctc": x["tokens"][:, 1:], "attention": np.concatenate([x["tokens"][:, 1:], [[39]]], axis=1)}
    t0 = time.perf_counter()
    model(x, training=False)
    forward = time.perf_counter() - t0
    model.compile("adam", loss={"ctc": CTCLoss(), "attention": MaskedCrossEntropy(per_token=False)})
    model.train_on_batch(x, y)  # includes tracing
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    step = time.perf_counter() - t0
    return {"parameters": int(model.count_params()), "frames": frames, "build_seconds": round(built, 1),
            "forward_seconds_batch1_eager": round(forward, 2), "train_step_seconds_batch1": round(step, 2),
            "scales": [int(s[-1]) for s in model.get_layer("encoder").get_layer("resnet").compute_output_shape(
                (1, frames, 22, 22, 64))]}


def main() -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT / "tfrecords" / "grid_s1"))
    p.add_argument("--lm", default=str(ROOT / "runs" / "grid_lm"))
    p.add_argument("--visual", default=str(ROOT / "runs" / "grid_visual"))
    p.add_argument("--integrated", default=str(ROOT / "runs" / "grid_crossmodal"),
                   help="integrate-stage run folder or a shipped model name/folder")
    p.add_argument("--lipnet", default="grid_lipreader")
    p.add_argument("--tune", action="store_true", help="pick decoding weights on the validation split")
    p.add_argument("--resnet50", action="store_true", help="time the design-size preset")
    p.add_argument("--ship", help="copy the integrated model + LM + tuned decoding into this folder")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "crossmodal.json"))
    args = p.parse_args()
    if not Path(args.data).exists():
        print(f"benchmarks/crossmodal.py: {args.data}: no records (run lipkeras preprocess first)", file=sys.stderr)
        return 2
    from lipkeras.lipreader import LipReader
    from lipkeras.records.io import write_json_atomic

    test = SPLITS / "test.txt"
    result = {"benchmark": "crossmodal", "data": args.data, "split": str(SPLITS), "cpus": os.cpu_count(),
              "machine": host.describe(), "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    result["training"] = {name: run_summary(Path(path)) for name, path in
                          (("decoder", args.lm), ("visual", args.visual), ("integrate", args.integrated))}
    lm = result["training"]["decoder"]
    if lm:
        print(f"LM: held-out {lm.get('best_val_bpc', float('nan')):.3f} bits/char", flush=True)

    visual = LipReader(args.visual)
    result["a_visual_ctc"] = scores(visual, args.data, test)
    print(f"(a) visual module + CTC (greedy): WER {result['a_visual_ctc']['wer']:.4f} "
          f"CER {result['a_visual_ctc']['cer']:.4f}", flush=True)

    integrated = LipReader(args.integrated)
    if args.tune:
        chosen, trials = tune(integrated, args.data)
        result["validation_trials"] = trials
    else:
        base = {"beam_width": integrated.decoding.beam_width, "ctc_weight": integrated.decoding.ctc_weight}
        chosen = {"with_lm": {**base, "lm_weight": integrated.decoding.lm_weight or 0.3},
                  "without_lm": {**base, "lm_weight": 0.0}}
    result["decoding"] = chosen
    result["b_integrated_no_lm"] = scores(integrated, args.data, test, **chosen["without_lm"])
    result["c_integrated_lm"] = scores(integrated, args.data, test, **chosen["with_lm"])
    result["integrated_greedy_attention_ctc0"] = scores(integrated, args.data, test, beam_width=1, lm_weight=0.0,
                                                        ctc_weight=0.0)
    for key, label in (("b_integrated_no_lm", "(b) integrated, no LM"), ("c_integrated_lm", "(c) integrated + LM")):
        m = result[key]
        print(f"{label} (beam {m['beam_width']}, LM {m['lm_weight']}, CTC {m['ctc_weight']}): WER {m['wer']:.4f} "
              f"CER {m['cer']:.4f} sentences {m['sentence_accuracy']:.3f}", flush=True)

    try:
        lipnet = LipReader(args.lipnet)
        result["d_lipnet_issue_model"] = {**scores(lipnet, args.data, test), "model": args.lipnet}
        print(f"(d) {args.lipnet}: WER {result['d_lipnet_issue_model']['wer']:.4f} "
              f"CER {result['d_lipnet_issue_model']['cer']:.4f}", flush=True)
    except FileNotFoundError as exc:
        print(f"(d) skipped: {exc}", flush=True)

    result["wda_weights"] = {"visual_stage": [round(float(w), 4) for w in
                                              visual.model.get_layer("encoder").scale_weights()],
                             "integrated": [round(float(w), 4) for w in
                                            integrated.model.get_layer("encoder").scale_weights()]}
    print(f"WDA weights (stem, stage 1, 2, 3): {result['wda_weights']}", flush=True)
    integrated.decoding.__dict__.update(chosen["with_lm"])
    result["inference"] = timed_clip(integrated)
    result["parameters"] = {"integrated": int(integrated.model.count_params()),
                            "lm": int(integrated.lm.count_params()) if integrated.lm is not None else 0}
    print(f"inference (LM fusion, beam {chosen['with_lm']['beam_width']}): {result['inference']}", flush=True)
    if args.resnet50:
        result["resnet50"] = resnet50_timing()
        print(f"resnet50 preset: {result['resnet50']}", flush=True)
    if args.ship:
        from lipkeras.lipreader import resolve, ship

        cfg = Path(args.visual) / "config.json"
        preset = json.loads(cfg.read_text()).get("preset") if cfg.exists() else None
        ship(resolve(args.integrated), args.ship, preset=preset, decoding=chosen["with_lm"])
        print(f"shipped {resolve(args.integrated)} to {args.ship} with decoding {chosen['with_lm']}", flush=True)
    write_json_atomic(args.json, result)  # makes the folder; atomic
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
