"""Preprocessing and reading throughput on GRID speaker 1 (800 clips).

    python benchmarks/preprocess.py [--grid ../shared/data/grid] [--workers 1,2] [--limit N]

For each worker count: preprocess every clip of ``--grid`` into a fresh folder and report
frames/s, clips/min and skips. Then read the records back through ``mouth_dataset`` (training
mode: shuffle + crop + flip + time mask; and evaluation mode) and report clips/s. Prints the
figures and writes them to ``benchmarks/results/preprocess.json``.
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


def main() -> int:
    from lipkeras import _quiet  # noqa: F401

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", default=str(ROOT.parent / "shared" / "data" / "grid"))
    p.add_argument("--workers", default="1,2")
    p.add_argument("--limit", type=int, default=0, help="clips per speaker (0: all)")
    p.add_argument("--keep", default=str(ROOT / "tfrecords" / "grid_s1"),
                   help="where the last run's records stay (default tfrecords/grid_s1)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "preprocess.json"))
    args = p.parse_args()
    grid = Path(args.grid)
    if not grid.exists():
        print(f"benchmarks/preprocess.py: {grid}: GRID data not found (pass --grid)", file=sys.stderr)
        return 2
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
    from lipkeras.records.io import write_json_atomic

    write_json_atomic(args.json, result)  # makes the folder; atomic
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
