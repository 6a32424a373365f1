"""``lipkeras emotion FOLDER`` on a folder of FER-size face crops, end to end, as a user runs it.

    python benchmarks/emotion_folder.py [--faces 3294] [--data ../shared/data/fer2013/train]

Copies ``--faces`` FER2013 faces (an equal share of each emotion, seeded) into a temporary folder
and times the command for each setting below as a subprocess (start-up, model load, decoding and
classification all counted), scoring its labels against the faces' folders. Writes
``benchmarks/results/emotion_folder.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import host

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name → extra arguments
    "fer_emotion, model's views (10)": [],
    "fer_emotion --views 1": ["--views", "1"],
    "fer_emotion_fast int8 TFLite --views 1": ["--model", "fer_emotion_fast/tflite/1", "--views", "1"],
}


def sample_faces(data: Path, n: int, out: Path, seed: int = 0) -> dict[str, str]:
    """Copy about ``n`` faces, equal per class, into ``out`` flat; returns file name → true label."""
    classes = sorted(p.name for p in data.iterdir() if p.is_dir())
    rng, truth = random.Random(seed), {}
    for c in classes:
        files = sorted((data / c).glob("*.png"))
        for f in rng.sample(files, min(len(files), n // len(classes))):
            name = f"{c}_{f.name}"
            shutil.copyfile(f, out / name)
            truth[name] = c
    return truth


def run(folder: Path, extra: list[str]) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lipkeras", "emotion", str(folder), "--json", *extra], check=False,
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - t0
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # exit status 1: some inputs could not be read (FER2013 has blank images), each said on stderr
    if proc.returncode not in (0, 1) or not results:
        raise SystemExit(f"lipkeras emotion {' '.join(extra)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wall, results


def startup_seconds(extra: list[str], image: Path) -> float:
    """Wall time of the same command on one face: start-up + model load, what a folder pays once."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(image, Path(tmp) / image.name)
        return run(Path(tmp), extra)[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013" / "train"))
    p.add_argument("--faces", type=int, default=3294, help="about as many faces as the issue's folder (3,294); disgust has 436")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "emotion_folder.json"))
    args = p.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"{data}: FER2013 faces not found", file=sys.stderr)
        return 2
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "faces"
        folder.mkdir()
        truth = sample_faces(data, args.faces, folder)
        for name, extra in SETTINGS.items():
            wall, results = run(folder, extra)
            start = startup_seconds(extra, next(folder.iterdir()))
            errors = [r for r in results if "error" in r]
            results = [r for r in results if "error" not in r]
            right = sum(r.get("label") == truth.get(Path(r["input"]).name) for r in results)
            rows[name] = {"args": extra, "faces": len(results), "unreadable": [
                              f"{Path(r['input']).name}: {r['error']}" for r in errors], "wall_s": round(wall, 2),
                          "faces_per_s": round(len(results) / wall, 1),
                          "startup_s": round(start, 2),
                          "faces_per_s_after_startup": round(len(results) / max(wall - start, 1e-6), 1),
                          "accuracy": round(right / max(len(results), 1), 4)}
            print(f"{name:45s} {len(results)} faces in {wall:6.1f} s: {rows[name]['faces_per_s']:6.1f} faces/s "
                  f"end to end ({rows[name]['faces_per_s_after_startup']:.1f}/s after {start:.1f} s start-up), "
                  f"accuracy {rows[name]['accuracy']:.3f}", flush=True)
    out = {"data": f"{args.faces} FER2013 training-folder faces (equal per class, seed 0; the shipped models "
                   "trained on most of them, so accuracy here is not a held-out score)",
           "settings": rows, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "machine": host.describe(), "cpus": os.cpu_count()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(args.out).with_suffix(".tmp")
    tmp_out.write_text(json.dumps(out, indent=2) + "\n")
    tmp_out.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
