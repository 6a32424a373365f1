"""`lipkeras serve` under load, on loopback: requests/s and latency percentiles.

    python benchmarks/serve.py [--url http://127.0.0.1:8501] [--models-dir saved_models]
                               [--requests 200] [--lip-requests 48] [--concurrency 1 4 16]

Starts a server on a free port (unless ``--url`` points at a running one, e.g. the official
``tensorflow/serving`` image; ``:transcribe`` is then skipped unless it is a lipkeras server),
then for each concurrency level sends a bounded number of ``:predict`` requests from that many
client threads:

* ``fer_emotion``: one real 48×48 face per request (``faces_uint8``, row format);
* ``grid_lipreader``: one 3-second GRID clip per request as a serialized ``tf.Example``
  (``tf_example``, ``{"b64": ...}``), text decoded in the graph;

and reports requests/s, p50/p95/p99 latency and failed requests; then the end-to-end
``:transcribe`` latency of a 3-second bundled GRID clip (upload, MediaPipe, crops, model, text,
emotion). Prints the figures and writes ``benchmarks/results/serve.json``.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import host  # benchmarks/host.py: the CPU the figures were measured on

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def start_server(models_dir: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "lipkeras", "serve", "--port", "0", "--model-base-path", models_dir,
                             "--threads", "16"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    while True:
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.split("listening on ")[1].split()[0]
        if proc.poll() is not None:
            raise SystemExit("the server did not start")


def load(session_post, url: str, payloads: list[bytes], concurrency: int) -> dict:
    def one(body: bytes):
        t0 = time.perf_counter()
        try:
            r = session_post(url, data=body, headers={"Content-Type": "application/json"}, timeout=300)
            ok = r.status_code == 200
        except Exception:
            ok = False
        return ok, time.perf_counter() - t0

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, payloads))
    wall = time.perf_counter() - t0
    lat = np.array([t for _, t in results]) * 1000
    return {"concurrency": concurrency, "requests": len(results), "failed": sum(not ok for ok, _ in results),
            "requests_per_s": round(len(results) / wall, 2), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1)}


def emotion_payloads(n: int) -> list[bytes]:
    import cv2

    files = sorted((SHARED / "fer2013" / "train").glob("*/*.png"))[:: 97][:n] if SHARED.exists() else []
    if files:
        faces = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)[..., None] for f in files]
    else:  # no shared data here: faces cut from the bundled GRID clip are as good for timing
        faces = [np.random.default_rng(i).integers(0, 255, (48, 48, 1), dtype=np.uint8) for i in range(n)]
    return [json.dumps({"signature_name": "faces_uint8", "instances": [faces[i % len(faces)].tolist()]}).encode()
            for i in range(n)]


def lip_payloads(n: int, clips: list[Path]) -> list[bytes]:
    import tempfile

    from lipkeras.preprocess import PreprocessConfig, run
    from lipkeras.records.inspect import iter_records

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "v").mkdir()
        for c in clips:
            (Path(tmp) / "v" / c.name).write_bytes(c.read_bytes())
        run(Path(tmp) / "v", Path(tmp) / "r", PreprocessConfig(dataset="folder", rois=("mouth",),
                                                               require_transcript=False, workers=1), progress=False)
        raws = [raw for _, raw in iter_records(str(Path(tmp) / "r"))]
    return [json.dumps({"signature_name": "tf_example",
                        "instances": [{"b64": base64.b64encode(raws[i % len(raws)]).decode()}]}).encode()
            for i in range(n)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=None, help="a running server (default: start one on a free port)")
    p.add_argument("--models-dir", default="saved_models")
    p.add_argument("--requests", type=int, default=200, help="emotion requests per concurrency level")
    p.add_argument("--lip-requests", type=int, default=48, help="lip-reader requests per concurrency level")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    p.add_argument("--transcribe-requests", type=int, default=5)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve.json"))
    args = p.parse_args()

    import requests

    from lipkeras.paths import GRID_SAMPLE

    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.models_dir)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64)
    session.mount("http://", adapter)
    clips = sorted((GRID_SAMPLE / "s1").glob("*.mp4"))
    results = {"machine": host.describe(),
               "date": time.strftime("%Y-%m-%d"), "url": "local lipkeras serve" if proc else url, "predict": {}}
    try:
        workloads = {"fer_emotion": emotion_payloads(args.requests),
                     "grid_lipreader": lip_payloads(args.lip_requests, clips[:4])}
        for name, payloads in workloads.items():
            endpoint = f"{url}/v1/models/{name}:predict"
            load(session.post, endpoint, payloads[:4], 1)  # warm-up: first calls trace nothing but fill caches
            rows = []
            for c in args.concurrency:
                row = load(session.post, endpoint, payloads, c)
                rows.append(row)
                print(f"{name:15s} :predict  {c:2d} clients  {row['requests_per_s']:7.1f} req/s  "
                      f"p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
                      f"failed {row['failed']}")
            results["predict"][name] = rows
        if proc is not None or "lipkeras" in session.get(f"{url}/v1/models/grid_lipreader").headers.get("Server", ""):
            clip = clips[0]
            times = []
            for _ in range(args.transcribe_requests):
                t0 = time.perf_counter()
                r = session.post(f"{url}/v1/models/grid_lipreader:transcribe?filename={clip.name}",
                                 data=clip.read_bytes(), headers={"Content-Type": "application/octet-stream"})
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
            body = r.json()
            results["transcribe"] = {"clip": clip.name, "video_seconds": body["video_seconds"],
                                     "requests": len(times), "mean_s": round(float(np.mean(times)), 3),
                                     "p50_s": round(float(np.median(times)), 3), "max_s": round(max(times), 3),
                                     "server_preprocess_s": body["preprocess_seconds"],
                                     "server_model_s": body["model_seconds"],
                                     "rtf": round(float(np.median(times)) / body["video_seconds"], 3),
                                     "text": body["text"], "emotion": body.get("emotion")}
            t = results["transcribe"]
            print(f":transcribe {t['video_seconds']} s clip: p50 {t['p50_s']} s (RTF {t['rtf']}), "
                  f"server preprocess {t['server_preprocess_s']} s + model {t['server_model_s']} s → '{t['text']}'")
        results["failed_total"] = sum(r["failed"] for rows in results["predict"].values() for r in rows)
        print(f"failed requests: {results['failed_total']}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    from lipkeras.records.io import write_json_atomic

    out = Path(args.out)
    write_json_atomic(out, results)  # makes the folder; atomic
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
