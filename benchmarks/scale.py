"""Scale-out figures (issue 35): Beam vs the local pool, MirroredStrategy replicas, landmark speed, RTF.

    python benchmarks/scale.py [--parts beam,training,preprocess,transcribe] [--clips 200]

* ``beam``: ``lipkeras preprocess`` on the same ``--clips`` GRID speaker-1 clips with the local
  process pool (``--workers 2``) and the Apache Beam DirectRunner with 1 and 2 worker processes
  (``--direct_num_workers N --direct_running_mode multi_processing``), each a fresh output folder,
  run as a user runs it (a subprocess: start-up included): wall seconds, frames/s, clips written,
  and whether the runs wrote the same clip ids.
* ``training``: MirroredStrategy with 1 vs 2 replicas (two logical CPU devices), steps/s of the
  lip-reading stage (``benchmarks/scale_training.py``).
* ``preprocess``: 2-worker preprocessing of the GRID test split with landmarks on every frame
  (before) and every second frame (now), frames/s and the shipped reader's WER/CER on each
  (``benchmarks/preprocess.py --landmark-modes``).
* ``transcribe``: ``lipkeras transcribe`` on 10 GRID test clips (30 s of video) as a user runs it:
  real-time factor of the whole command (start-up included), and of the clips once running (first
  to last clip's output), one video at a time (``--workers 0``, before), with the next videos
  preprocessed meanwhile (the default), and with ``--json`` (which adds the audio-visual emotion).

Each part prints its figures and is written under its own key of ``benchmarks/results/scale.json``
(other parts' earlier figures are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT.parent / "shared" / "data" / "grid"
OUT = ROOT / "benchmarks" / "results" / "scale.json"


def _clip_ids(folder: Path) -> list[str]:
    import tensorflow as tf

    from lipkeras.records.io import compression_of, list_shards
    from lipkeras.records.schema import decode_numpy

    return sorted(decode_numpy(raw)["clip_id"] for shard in list_shards(str(folder))
                  for raw in tf.data.TFRecordDataset(shard, compression_type=compression_of(shard)).as_numpy_iterator())


def _preprocess(grid: Path, out: Path, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lipkeras", "preprocess", str(grid), str(out), "--dataset", "grid",
                           "--quiet", *extra], check=False, capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"preprocess {' '.join(extra)} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    m = json.loads((out / "manifest.json").read_text())
    ids = _clip_ids(out)
    return {"args": extra, "seconds": round(wall, 1), "clips": m["written"], "skipped": len(m["skipped"]),
            "frames": m["frames"], "frames_per_second": round(m["frames"] / wall, 1), "_ids": ids}


def part_beam(args) -> dict:
    from preprocess import limited_grid

    runs = {"local pool, 2 workers": ["--workers", "2"],
            "Beam DirectRunner, 1 worker": ["--runner", "beam", "--direct_num_workers=1",
                                            "--direct_running_mode=multi_processing"],
            "Beam DirectRunner, 2 workers": ["--runner", "beam", "--direct_num_workers=2",
                                             "--direct_running_mode=multi_processing"]}
    rows, ids = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        grid = limited_grid(Path(args.grid), args.clips, Path(tmp))
        for name, extra in runs.items():
            r = _preprocess(grid, Path(tmp) / name.replace(" ", "_").replace(",", ""), extra)
            ids[name] = r.pop("_ids")
            rows[name] = r
            print(f"  {name:30s} {r['clips']} clips, {r['frames']} frames in {r['seconds']:7.1f} s: "
                  f"{r['frames_per_second']:6.1f} frames/s ({r['skipped']} skipped)", flush=True)
    same = len({tuple(v) for v in ids.values()}) == 1
    print(f"  same clip ids in every run: {same}", flush=True)
    return {"clips_asked": args.clips, "data": f"GRID speaker 1, first {args.clips} clips", "runs": rows,
            "same_clip_ids": same}


def part_training(args) -> dict:
    import scale_training

    records = Path(args.records)
    if not (records / "manifest.json").is_file():  # the bundled sample's records, built once
        _preprocess(ROOT / "lipkeras" / "samples" / "grid", records, ["--workers", "2"])
    runs = [scale_training.measure(str(records), n, batch_size=8, steps=args.steps) for n in (1, 2)]
    for r in runs:
        print(f"  {r['replicas']} replica(s): {r['steps_per_second']:.3f} steps/s, {r['clips_per_second']:.2f} clips/s "
              f"({r['strategy']})", flush=True)
    return {"data": f"{records} (bundled GRID sample, 8 of 10 clips: full global batches of 8)", "model": "fast",
            "runs": runs, "speedup_2_vs_1": round(runs[1]["steps_per_second"] / runs[0]["steps_per_second"], 3),
            "note": "two logical devices on the same 2 CPU cores: the strategy's overhead here, not a speed-up"}


def part_preprocess(args) -> dict:
    from preprocess import landmark_modes

    return landmark_modes(Path(args.grid), rounds=args.rounds)


def _transcribe(folder: Path, extra: list[str]) -> dict:
    """One ``lipkeras transcribe`` run as a user runs it: wall seconds to each clip's output line."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lipkeras", "transcribe", str(folder), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    texts, at = [], []
    for line in proc.stdout:
        if "--json" in extra:
            texts.append(json.loads(line)["text"])
        elif line.startswith(str(folder)):  # "VIDEO: text (confidence ...)"; warnings are indented
            texts.append(line.split(": ", 1)[1].rsplit(" (", 1)[0])
        else:
            continue
        at.append(time.perf_counter() - t0)
    proc.wait()
    wall = time.perf_counter() - t0
    video = len(texts) * 3.0  # GRID clips: 75 frames at 25 fps
    return {"args": extra, "clips": len(texts), "video_seconds": video, "wall_seconds": round(wall, 2),
            "rtf_whole_command": round(wall / video, 3), "first_output_seconds": round(at[0], 2),
            "rtf_running": round((at[-1] - at[0]) / (3.0 * (len(at) - 1)), 3), "_texts": texts}


def part_transcribe(args) -> dict:
    from preprocess import test_split_grid

    runs = {"one video at a time (--workers 0, before)": ["--workers", "0"],
            "next videos preprocessed meanwhile (default)": [],
            "--json (adds the audio-visual emotion)": ["--json"]}
    rows, texts = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        full = test_split_grid(Path(args.grid), Path(tmp))
        folder = Path(tmp) / "ten"
        folder.mkdir()
        for v in sorted((full / "s1").glob("*.mp4"))[:10]:
            (folder / v.name).symlink_to(v.resolve())
        for _ in range(args.rounds):
            for name, extra in runs.items():
                r = _transcribe(folder, extra)
                texts[name] = r.pop("_texts")
                if name not in rows or r["wall_seconds"] < rows[name]["wall_seconds"]:
                    rows[name] = r
        for name, r in rows.items():
            print(f"  {name:45s} {r['clips']} clips, {r['video_seconds']:g} s of video: {r['wall_seconds']:.1f} s wall, "
                  f"RTF {r['rtf_whole_command']:.3f} whole command (first output at {r['first_output_seconds']:.1f} s), "
                  f"RTF {r['rtf_running']:.3f} once running", flush=True)
    same = len({tuple(t) for t in texts.values()}) == 1
    print(f"  same transcripts: {same}", flush=True)
    return {"data": "GRID speaker 1, the first 10 clips of the test split (3 s each)", "rounds": args.rounds,
            "runs": rows, "same_transcripts": same,
            "note": "rtf_running: seconds from the first clip's output to the last's per second of video read in "
                    "between (start-up excluded); best of the rounds by wall time"}


PARTS = {"beam": part_beam, "training": part_training, "preprocess": part_preprocess, "transcribe": part_transcribe}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="beam,training,preprocess,transcribe")
    p.add_argument("--grid", default=str(GRID))
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--records", default=str(ROOT / "tfrecords" / "grid_sample"), help="training: GRID mouth records")
    p.add_argument("--steps", type=int, default=10, help="training: timed steps per replica count")
    p.add_argument("--rounds", type=int, default=1, help="preprocess, transcribe: runs per mode (best kept)")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    for part in [s for s in args.parts.split(",") if s]:
        if part not in PARTS:
            print(f"unknown part {part!r}: {', '.join(PARTS)}", file=sys.stderr)
            return 2
        print(f"== {part}", flush=True)
        t0 = time.perf_counter()
        results[part] = {**PARTS[part](args), "seconds": round(time.perf_counter() - t0, 1),
                         "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": host.describe(),
                         "cpus": os.cpu_count()}
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(out)
        print(f"{part}: wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
