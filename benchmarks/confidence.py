"""How far the shipped models' confidences and warnings can be trusted, and what a CLI call costs to start.

    python benchmarks/confidence.py [--data tfrecords/grid_s1] [--readers grid_lipreader,grid_crossmodal]
                                    [--emotion fer_emotion,fer_emotion_fast] [--fer ../shared/data/fer2013/train]

For each lip reader, with the calibration and domain ``lipkeras calibrate`` stored beside it:

* word confidences on GRID speaker 1 validation (what the calibration was fit on) and test
  (held out): expected calibration error (15 bins) and the AUROC of confidence for correct vs wrong
  words; the share of test clips that get a warning (target ≤ 5 %);
* the share of inputs it has never seen that get a warning (target: all): the wild clips
  (``../shared/data/wild``: LRS2, LRS3, a webcam), the CREMA-D clips of actor 1001 (another speaker,
  camera and sentence set), and GRID test clips played backwards (the same face and camera, mouth
  movements no GRID sentence makes).

For each emotion model: the ECE of its label probabilities before and after the stored temperature
on the validation faces of ``--fer`` (split as ``--stage emotion``: the same faces the temperature
was fit on, one parameter), and the share of labels reported as uncertain.

CLI start-up: wall seconds of ``lipkeras --help``, ``inspect`` of the records folder, ``emotion`` of one
face image and ``transcribe`` of one bundled GRID clip (best of ``--repeats``).

Prints the figures and writes ``benchmarks/results/confidence.json``. Records:
``lipkeras preprocess ../shared/data/grid tfrecords/grid_s1 --dataset grid``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SPLITS = ROOT / "lipkeras" / "splits" / "grid_s1"
VIDEO_SUFFIXES = {".mp4", ".flv", ".avi", ".mov", ".mkv", ".webm", ".mpg"}


def grid_rows(reader, data: str, split: str) -> list[dict]:
    from lipkeras.calibrate import read_split

    return read_split(reader, data, str(SPLITS / f"{split}.txt"))


def flagged(reader, rows) -> list[dict]:
    """The trust fields ``recognize_batch`` would give each row."""
    from lipkeras.decode.confidence import assess

    out = []
    for r in rows:
        check = reader.domain.check(r["embedding"], r["frames"]) if reader.domain is not None else None
        out.append(assess(r["hypothesis"], r["char_logprobs"], reader.calibration, check))
    return out


def backwards_rows(reader, data: str, limit: int = 40) -> list[dict]:
    """GRID test clips with their frames reversed in time (padding stays at the end)."""
    from lipkeras.records import mouth_dataset

    ds = mouth_dataset(data, batch_size=8, normalization=None, crop_size=reader.meta["crop_size"],
                       clip_ids=str(SPLITS / "test.txt"))
    results = []
    for batch in ds:
        frames, lengths = batch["frames"].numpy().copy(), batch["frame_lengths"].numpy()
        for b, n in enumerate(lengths):
            frames[b, :n] = frames[b, :n][::-1]
        results += reader.recognize_batch(frames, lengths)
        if len(results) >= limit:
            break
    return results[:limit]


def video_results(reader, folder: Path) -> list[dict]:
    rows = []
    for video in sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES):
        try:
            r = reader.transcribe(video)
        except (ValueError, OSError) as e:  # no face, undecodable: the CLI reports it as an error, not a transcript
            rows.append({"video": str(video.relative_to(SHARED)), "error": str(e), "flagged": True})
            continue
        rows.append({"video": str(video.relative_to(SHARED)), "text": r["text"], "confidence": r["confidence"],
                     "domain_distance": r.get("domain_distance"), "flagged": "warning" in r,
                     "warning": r.get("warning", "")})
    return rows


def reader_figures(name: str, data: str) -> dict:
    from lipkeras.calibrate import trust_metrics
    from lipkeras.lipreader import LipReader

    reader = LipReader(name)
    out = {"calibration": {k: v for k, v in reader.meta["confidence"].items() if k in ("a", "b", "threshold", "method")},
           "domain_threshold": reader.domain.threshold}
    for split in ("val", "test"):
        t0 = time.perf_counter()
        rows = grid_rows(reader, data, split)
        m = trust_metrics(reader.calibration, rows)
        trust = flagged(reader, rows)
        m["flagged_clips"] = round(float(np.mean(["warning" in t for t in trust])), 4)
        m["out_of_domain_clips"] = round(float(np.mean([not t.get("in_domain", True) for t in trust])), 4)
        m["domain_distance_max"] = round(float(max(t["domain_distance"] for t in trust)), 3)
        m["seconds"] = round(time.perf_counter() - t0, 1)
        out[f"grid_{split}"] = m
        print(f"  {name} GRID {split}: {m['clips']} clips, {m['words']} words, word accuracy {m['word_accuracy']}, "
              f"ECE {m['ece']}, AUROC {m['auroc']}, flagged {m['flagged_clips']:.1%}", flush=True)
    backwards = backwards_rows(reader, data)
    out["grid_test_backwards"] = {"clips": len(backwards),
                                  "flagged": round(float(np.mean(["warning" in r for r in backwards])), 4),
                                  "mean_confidence": round(float(np.mean([r["confidence"] for r in backwards])), 4)}
    print(f"  {name} GRID test backwards: flagged {out['grid_test_backwards']['flagged']:.1%}", flush=True)
    for key, folder in (("wild", SHARED / "wild"), ("cremad", SHARED / "cremad_sample")):
        rows = video_results(reader, folder) if folder.is_dir() else []
        out[key] = {"clips": len(rows), "flagged": round(float(np.mean([r["flagged"] for r in rows])), 4) if rows else None,
                    "rows": rows}
        for r in rows:
            print(f"  {name} {r['video']}: {'FLAGGED' if r['flagged'] else 'not flagged'} "
                  f"conf {r.get('confidence')} dist {r.get('domain_distance')} «{r.get('text', r.get('error'))}»", flush=True)
    return out


def emotion_figures(name: str, fer: str) -> dict:
    from lipkeras.calibrate import tempered
    from lipkeras.decode.confidence import auroc, expected_calibration_error
    from lipkeras.emotion import EmotionReader

    import cv2

    from lipkeras.train.config import EmotionConfig
    from lipkeras.train.emotion import load_split

    reader = EmotionReader(name)
    names, _, (paths, labels), _, _ = load_split(EmotionConfig(data=fer))
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])[..., None]
    labels = np.asarray([list(reader.labels).index(names[i]) for i in labels])
    probs = reader.predict_faces(faces)
    t = float(reader.calibration.get("temperature", 1.0))
    threshold = float(reader.calibration.get("threshold", 0.5))
    calibrated = tempered(probs, t)
    correct = probs.argmax(1) == labels
    out = {"faces": int(len(labels)), "views": reader.views, "temperature": t, "accuracy": round(float(correct.mean()), 4),
           "ece_before": round(expected_calibration_error(probs.max(1), correct), 4),
           "ece_after": round(expected_calibration_error(calibrated.max(1), correct), 4),
           "auroc": round(auroc(calibrated.max(1), correct), 4),
           "uncertain": round(float((calibrated.max(1) < threshold).mean()), 4),
           "accuracy_when_certain": round(float(correct[calibrated.max(1) >= threshold].mean()), 4)}
    print(f"  {name} FER val: {out['faces']} faces, accuracy {out['accuracy']}, ECE {out['ece_before']} → "
          f"{out['ece_after']} (T {t}), AUROC {out['auroc']}, uncertain {out['uncertain']:.1%}", flush=True)
    return out


def startup_seconds(data: str, repeats: int) -> dict:
    from lipkeras.paths import GRID_SAMPLE

    face = next((SHARED / "fer2013" / "train" / "happy").glob("*.png"), None)
    clip = sorted((GRID_SAMPLE / "s1").glob("*.mp4"))[0]
    # start-up, not reading: inspect one shard (inspecting all 785 MB of GRID s1 is bound by gunzip)
    shard = sorted(Path(data).glob("*.tfrecord"))[0]
    commands = {"--help": ["--help"], f"inspect (one shard, {shard.stat().st_size / 2**20:.0f} MB)": ["inspect", str(shard)],
                "emotion (one face image)": ["emotion", str(face)] if face else None,
                "transcribe (one 3 s clip)": ["transcribe", str(clip)]}
    out = {}
    for key, args in commands.items():
        if args is None:
            continue
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "lipkeras.cli", *args], cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if done.returncode:
                print(f"  {key}: exit {done.returncode}: {done.stderr.strip()[-300:]}", flush=True)
        out[key] = round(min(times), 2)
        print(f"  lipkeras {key}: {out[key]} s", flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT / "tfrecords" / "grid_s1"))
    p.add_argument("--readers", default="grid_lipreader,grid_crossmodal")
    p.add_argument("--emotion", default="fer_emotion,fer_emotion_fast")
    p.add_argument("--fer", default=str(SHARED / "fer2013" / "train"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--parts", default="startup,readers,emotion",
                   help="what to measure; a subset updates only its parts of an existing --json "
                        "(e.g. start-up again on a quiet machine)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "confidence.json"))
    args = p.parse_args(argv)
    parts = set(args.parts.split(","))
    if not Path(args.data).is_dir():
        print(f"{args.data}: no records (lipkeras preprocess ../shared/data/grid tfrecords/grid_s1 --dataset grid)",
              file=sys.stderr)
        return 2
    out = Path(args.json)
    previous = json.loads(out.read_text()) if out.is_file() and parts != {"startup", "readers", "emotion"} else {}
    results = {"benchmark": "confidence", "readers": {}, "emotion": {}, **previous,
               "machine": host.describe(), "data": args.data}
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    results["dates"] = {**previous.get("dates", {}), **{part: stamp for part in parts}}
    if "startup" in parts:
        print("CLI start-up", flush=True)
        results["startup_seconds"] = startup_seconds(args.data, args.repeats)
    for name in filter(None, args.readers.split(",")) if "readers" in parts else []:
        print(name, flush=True)
        results["readers"][name] = reader_figures(name, args.data)
    if "emotion" in parts and Path(args.fer).is_dir():
        for name in filter(None, args.emotion.split(",")):
            results["emotion"][name] = emotion_figures(name, args.fer)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
