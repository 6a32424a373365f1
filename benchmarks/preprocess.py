"""Preprocessing and reading throughput on GRID speaker 1 (800 clips).

    python benchmarks/preprocess.py [--grid ../shared/data/grid] [--workers 1,2] [--limit N]
    python benchmarks/preprocess.py --landmark-modes [--rounds 1]

For each worker count: preprocess every clip of ``--grid`` into a fresh folder and report
frames/s, clips/min and skips. Then read the records back through ``mouth_dataset`` (training
mode: shuffle + crop + flip + time mask; and evaluation mode) and report clips/s. Prints the
figures and writes them to ``benchmarks/results/preprocess.json``.

``--landmark-modes``: the 100 clips of the GRID test split (``lipkeras/splits/grid_s1/test.txt``)
preprocessed with 2 workers with landmarks on every frame (``--landmark-every 1``, as before) and
on every second frame while the face moves slowly (the default), frames/s of each (best of
``--rounds``, the modes alternating), then the shipped ``grid_lipreader`` reads each set of records:
WER and CER with its default decoding, so that speed is never bought with accuracy. Writes
``benchmarks/results/preprocess_landmarks.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "processor": host.describe()}


def limited_grid(grid: Path, limit: int, tmp: Path) -> Path:
    """A GRID-layout folder of symlinks to the first ``limit`` clips (for quick runs)."""
    out = tmp / "grid_subset"
    for spk in sorted(p for p in grid.iterdir() if p.is_dir() and p.name.startswith("s")):
        vids = sorted(spk.glob("*.mp4")) + sorted(spk.glob("*.mpg"))
        (out / spk.name).mkdir(parents=True, exist_ok=True)
        (out / "align" / spk.name).mkdir(parents=True, exist_ok=True)
        for v in vids[:limit]:
            (out / spk.name / v.name).symlink_to(v)
            a = grid / "align" / spk.name / f"{v.stem}.align"
            if a.exists():
                (out / "align" / spk.name / a.name).symlink_to(a)
    return out


def bench_preprocess(grid: Path, out: Path, workers: int) -> dict:
    from lipkeras.preprocess import PreprocessConfig
    from lipkeras.preprocess.pipeline import run

    if out.exists():
        shutil.rmtree(out)
    cfg = PreprocessConfig(dataset="grid", workers=workers)
    t0 = time.perf_counter()
    m = run(grid, out, cfg, progress=False)
    wall = time.perf_counter() - t0
    return {
        "workers": workers,
        "clips": m["written"],
        "skipped": len(m["skipped"]),
        "skipped_reasons": m["skipped"][:10],
        "frames": m["frames"],
        "seconds": round(wall, 2),
        "frames_per_second": round(m["frames"] / wall, 1),
        "clips_per_minute": round(m["written"] / wall * 60, 1),
        "bytes": sum(p.stat().st_size for p in out.glob("*.tfrecord")),
    }


def bench_read(records: Path, training: bool, batch_size: int = 8, epochs: int = 2) -> dict:
    from lipkeras.records import mouth_dataset

    ds = mouth_dataset(str(records), batch_size=batch_size, training=training, crop_size=88, seed=0)
    out = {}
    for epoch in range(epochs):  # the first epoch includes graph tracing and file warm-up
        t0 = time.perf_counter()
        clips = 0
        for b in ds:
            clips += int(b["frames"].shape[0])
        dt = time.perf_counter() - t0
        out[f"epoch{epoch + 1}"] = {"clips": clips, "seconds": round(dt, 2), "clips_per_second": round(clips / dt, 1)}
    return {"training": training, "batch_size": batch_size, **out}


def test_split_grid(grid: Path, tmp: Path) -> Path:
    """A GRID-layout folder of symlinks to the test split's clips."""
    out = tmp / "grid_test"
    for line in (ROOT / "lipkeras" / "splits" / "grid_s1" / "test.txt").read_text().split():
        spk, clip = line.split("/")
        for sub, name in ((spk, f"{clip}.mp4"), (f"align/{spk}", f"{clip}.align")):
            (out / sub).mkdir(parents=True, exist_ok=True)
            (out / sub / name).symlink_to(grid / sub / name)
    return out


def landmark_modes(grid: Path, rounds: int = 1, workers: int = 2) -> dict:
    """Frames/s and the shipped reader's WER/CER with landmarks on every frame vs every second frame."""
    from lipkeras.evaluate import evaluate
    from lipkeras.lipreader import LipReader
    from lipkeras.preprocess import PreprocessConfig
    from lipkeras.preprocess.pipeline import run

    modes = {"every frame (before)": {"landmark_every": 1},
             "every 2nd frame while slow (default)": {"landmark_every": 2, "landmark_max_motion": 0.02}}
    rows: dict[str, dict] = {name: {"config": kw, "seconds": []} for name, kw in modes.items()}
    reader = LipReader("grid_lipreader")
    with tempfile.TemporaryDirectory() as tmp:
        src = test_split_grid(grid, Path(tmp))
        for r in range(rounds):
            for name, kw in modes.items():
                out = Path(tmp) / f"m{list(modes).index(name)}"
                if out.exists():
                    shutil.rmtree(out)
                t0 = time.perf_counter()
                m = run(src, out, PreprocessConfig(dataset="grid", workers=workers, **kw), progress=False)
                row = rows[name]
                row["seconds"].append(round(time.perf_counter() - t0, 2))
                row.update(clips=m["written"], frames=m["frames"], landmarked_frames=m["landmarked_frames"],
                           skipped=len(m["skipped"]))
                if r == rounds - 1:
                    metrics, _ = evaluate(reader, str(out))
                    row.update(wer=round(metrics["wer"], 4), cer=round(metrics["cer"], 4),
                               sentence_accuracy=round(metrics["sentence_accuracy"], 4))
        for name, row in rows.items():
            row["frames_per_second"] = round(row["frames"] / min(row["seconds"]), 1)
            print(f"  {name:38s} {row['frames']} frames ({row['landmarked_frames']} landmarked) in "
                  f"{min(row['seconds']):.1f} s: {row['frames_per_second']:6.1f} frames/s; grid_lipreader "
                  f"WER {row['wer']:.4f} CER {row['cer']:.4f}", flush=True)
    return {"data": "GRID speaker 1, test split (lipkeras/splits/grid_s1/test.txt, 100 clips)",
            "workers": workers, "rounds": rounds, "model": "grid_lipreader (default decoding)", "modes": rows}


def main() -> int:
    from lipkeras import _quiet  # noqa: F401

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", default=str(ROOT.parent / "shared" / "data" / "grid"))
    p.add_argument("--workers", default="1,2")
    p.add_argument("--limit", type=int, default=0, help="clips per speaker (0: all)")
    p.add_argument("--keep", default=str(ROOT / "tfrecords" / "grid_s1"),
                   help="where the last run's records stay (default tfrecords/grid_s1)")
    p.add_argument("--json", default=None, help="default benchmarks/results/preprocess.json "
                                                "(preprocess_landmarks.json with --landmark-modes)")
    p.add_argument("--landmark-modes", action="store_true", help="landmarks every frame vs every 2nd frame")
    p.add_argument("--rounds", type=int, default=1, help="--landmark-modes: timed rounds per mode")
    args = p.parse_args()
    grid = Path(args.grid)
    if not grid.exists():
        print(f"benchmarks/preprocess.py: {grid}: GRID data not found (pass --grid)", file=sys.stderr)
        return 2
    from lipkeras.records.io import write_json_atomic

    results = ROOT / "benchmarks" / "results"
    if args.landmark_modes:
        out = args.json or str(results / "preprocess_landmarks.json")
        write_json_atomic(out, {"benchmark": "preprocess landmark modes", "machine": machine(),
                                "date": time.strftime("%Y-%m-%d %H:%M:%S"), **landmark_modes(grid, args.rounds)})
        print(f"wrote {out}")
        return 0
    args.json = args.json or str(results / "preprocess.json")
    result = {"benchmark": "preprocess", "data": str(grid), "machine": machine(),
              "date": time.strftime("%Y-%m-%d %H:%M:%S"), "runs": [], "read": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = limited_grid(grid, args.limit, Path(tmp)) if args.limit else grid
        worker_counts = [int(w) for w in args.workers.split(",")]
        for i, w in enumerate(worker_counts):
            out = Path(args.keep) if i == len(worker_counts) - 1 else Path(tmp) / f"records_w{w}"
            r = bench_preprocess(src, out, w)
            result["runs"].append(r)
            print(f"preprocess workers={w}: {r['clips']} clips, {r['frames']} frames in {r['seconds']} s → "
                  f"{r['frames_per_second']} frames/s, {r['clips_per_minute']} clips/min, skipped {r['skipped']}",
                  flush=True)
        for training in (True, False):
            r = bench_read(Path(args.keep), training)
            result["read"].append(r)
            print(f"read training={training}: " + ", ".join(
                f"{k} {v['clips_per_second']} clips/s" for k, v in r.items() if k.startswith("epoch")), flush=True)
    write_json_atomic(args.json, result)  # makes the folder; atomic
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
