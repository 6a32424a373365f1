"""Train lipkeras models on a lent accelerator machine (JAX, no TensorFlow), as a user would.

The machine has JAX, NumPy and OpenCV but no TensorFlow, Keras or network, takes at most 64 MiB
per call and is lent for minutes. So: export the data once here (``lipkeras records export-npz``,
xz-compressed), carry it with the ``keras``/``namex``/``optree`` wheels, and run this script there:

    start --runs grid_wide,grid_v5          copy code + data to /tmp, start the runs detached, return
    start --runs fer_sgd,fer_adamw --wait 540 --collect $OUT
                                            start more runs, wait for all (or the deadline), then put
                                            each run's best model (optimizer state stripped), history,
                                            summary and log into $OUT as 15 MiB pieces of one tar

Detached runs outlive the call that started them, so data too large for one call travels in two
calls on the same warm machine and the runs overlap on the GPU. Every run is
``python -m lipkeras.train --backend jax --data X.npz ...``: the same command a user types, with a
``--max-minutes`` budget so that a run always ends with its checkpoints written. ``--tiny`` runs
the same plan for two epochs on a few samples (check it on the CPU before spending device time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

WORK = Path(os.environ.get("LIPKERAS_ACCEL_WORK", "/tmp/lipkeras_accel"))
REPO = Path(__file__).resolve().parents[1]

COMMON_FER = ["--stage", "emotion", "--precision", "bfloat16", "--filters", "64,128,256,512", "--kernel-sizes",
              "3,3,3,3", "--dense-units", "256", "--dropout", "0.25", "--dense-dropout", "0.5", "--batch-size", "128",
              "--lr-schedule", "cosine", "--early-stopping-patience", "0", "--rotation", "0.028", "--zoom", "0.15",
              "--translation", "0.1", "--contrast", "0.2", "--cutout", "0.4", "--checkpoint-every", "20"]
COMMON_GRID = ["--stage", "lipnet", "--precision", "bfloat16", "--batch-size", "16", "--speed-perturbation", "0.1",
               "--checkpoint-every", "20", "--train-ids", "", "--val-ids", "", "--test-ids", ""]
RUNS = {
    # name: (data file, flags, minutes of training)
    "fer_sgd": ("fer.npz.xz", COMMON_FER + ["--optimizer", "sgd", "--learning-rate", "0.02", "--min-learning-rate",
                                            "1e-4", "--weight-decay", "5e-4", "--warmup-epochs", "3", "--epochs", "140",
                                            "--label-smoothing", "0.1"], 6.8),
    "fer_adamw": ("fer.npz.xz", COMMON_FER + ["--learning-rate", "1e-3", "--min-learning-rate", "1e-5",
                                              "--weight-decay", "0.05", "--warmup-epochs", "3", "--epochs", "140",
                                              "--mixup", "0.2"], 6.8),
    "grid_wide": ("grid.npz.xz", COMMON_GRID + ["--model", "fast_wide", "--learning-rate", "2e-3", "--epochs", "200",
                                                "--warmup-epochs", "3", "--keep-checkpoints", "10"], 7.8),
    "grid_v5": ("grid.npz.xz", COMMON_GRID + ["--model", "fast", "--init-from", "DATA/grid_lipreader_v5.keras",
                                              "--learning-rate", "5e-4", "--epochs", "150", "--warmup-epochs", "1",
                                              "--keep-checkpoints", "10"], 7.8),
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def prepare(data_dir: Path):
    """Code and data into WORK (they must outlive this call's copy of the repository)."""
    (WORK / "data").mkdir(parents=True, exist_ok=True)
    code = WORK / "code"
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(REPO / "lipkeras", code / "lipkeras", ignore=shutil.ignore_patterns("__pycache__", "samples"))
    for f in data_dir.glob("*"):
        if f.is_file() and not (WORK / "data" / f.name).exists():
            shutil.copy2(f, WORK / "data" / f.name)
    log(f"data: {sorted(p.name for p in (WORK / 'data').iterdir())}")


def start(name: str, tiny: bool):
    data, flags, minutes = RUNS[name]
    flags = [f.replace("DATA/", str(WORK / "data") + "/") for f in flags]
    out = WORK / "runs" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "lipkeras.train", "--backend", "jax", "--data", str(WORK / "data" / data),
           "--out", str(out), *flags, "--max-minutes", str(0.2 if tiny else minutes)]
    if tiny:
        cmd += ["--epochs", "2", "--checkpoint-every", "1"]
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(WORK / "code"), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    logfile = open(WORK / "runs" / f"{name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=WORK / "code", env=env, stdout=logfile, stderr=subprocess.STDOUT,
                            start_new_session=True)  # detached: outlives this call
    (WORK / "runs" / f"{name}.pid").write_text(str(proc.pid))
    log(f"started {name} (pid {proc.pid}): {' '.join(cmd)}")


def alive(name: str) -> bool:
    try:
        pid = int((WORK / "runs" / f"{name}.pid").read_text())
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text().split()
        return stat[2] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def wait(names: list[str], seconds: float, t0: float):
    while time.time() - t0 < seconds and any(alive(n) for n in names):
        time.sleep(5)
    for n in names:
        if alive(n):
            log(f"{n}: past the deadline, stopped")
            os.killpg(int((WORK / "runs" / f"{n}.pid").read_text()), signal.SIGTERM)
    time.sleep(2)


STRIP = """
import sys, keras, lipkeras.models
from lipkeras.train.average import main as average
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    if src.endswith("/checkpoints"):  # the kept last epochs, averaged (what the CPU runs shipped)
        average(["--run", src.rsplit("/", 1)[0], "--last", "10", "--out", dst])
    else:
        keras.saving.load_model(src, compile=False).save(dst)  # weights and config, no optimizer state
"""


def score(name: str):
    """(monitored value, better-is-higher) from a run's summary, None if it wrote none."""
    try:
        s = json.loads((WORK / "runs" / name / "summary.json").read_text())
    except (OSError, ValueError):  # stopped at the deadline: its history so far
        import csv

        try:
            rows = list(csv.DictReader((WORK / "runs" / name / "history.csv").open()))
        except OSError:
            return None
        acc = [float(r["val_accuracy"]) for r in rows if r.get("val_accuracy")]
        wer = [float(r["val_wer"]) for r in rows if r.get("val_wer")]
        return max(acc) if acc else (-min(wer) if wer else None)
    if s.get("best_val_accuracy") is not None:
        return s["best_val_accuracy"]
    if s.get("best_val_wer") is not None:
        return -s["best_val_wer"]
    return None


def collect(names: list[str], out: Path, piece_mib: int = 15):
    """Logs of every run; models of the best run of each kind (fer_*, grid_*) by its validation
    score: at most 64 MiB come back from a call, and a FER model alone is 23 MiB."""
    stage = WORK / "collect"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    winners = {}
    for n in names:
        kind = n.split("_")[0]
        if score(n) is not None and (kind not in winners or score(n) > score(winners[kind])):
            winners[kind] = n
    log(f"best runs by validation: {winners}")
    pairs = []
    for n in names:
        run = WORK / "runs" / n
        (stage / n).mkdir()
        for f in ("history.csv", "summary.json", "config.json"):
            if (run / f).exists():
                shutil.copy2(run / f, stage / n / f)
        shutil.copy2(WORK / "runs" / f"{n}.log", stage / n / "train.log")
        if n not in winners.values():
            continue
        if (run / "best.keras").exists():
            pairs += [str(run / "best.keras"), str(stage / n / "best.keras")]
        if len(list((run / "checkpoints").glob("*.keras"))) >= 2 if (run / "checkpoints").exists() else False:
            pairs += [str(run / "checkpoints"), str(stage / n / "avg10.keras")]
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join(
        filter(None, [str(WORK / "code"), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-c", STRIP, *pairs], env=env, check=False)
    info = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                          capture_output=True, text=True).stdout.strip() if shutil.which("nvidia-smi") else "none"
    (stage / "machine.json").write_text(json.dumps({"gpu": info, "python": sys.version, "cpus": os.cpu_count(),
                                                    "winners": winners}))
    tar = WORK / "results.tar"
    with tarfile.open(tar, "w") as t:
        t.add(stage, arcname="results")
    out.mkdir(parents=True, exist_ok=True)
    data = tar.read_bytes()
    piece = piece_mib << 20
    for i in range(0, len(data), piece):
        (out / f"results.tar.{i // piece:02d}").write_bytes(data[i:i + piece])
    log(f"collected {len(data) / 2**20:.1f} MiB in {-(-len(data) // piece)} pieces into {out}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("start",))
    p.add_argument("--runs", default="", help="comma-separated names of RUNS to start")
    p.add_argument("--data", default=str(REPO / ".devdata"), help="folder of the carried data files")
    p.add_argument("--wait", type=float, default=0.0, help="then wait up to this many seconds for every run")
    p.add_argument("--collect", help="then write the results here")
    p.add_argument("--tiny", action="store_true", help="two epochs on a few samples (a check on the CPU)")
    args = p.parse_args(argv)
    t0 = time.time()
    prepare(Path(args.data))
    for name in filter(None, args.runs.split(",")):
        start(name, args.tiny)
    if args.wait or args.collect:
        names = sorted(p.stem for p in (WORK / "runs").glob("*.pid"))
        wait(names, args.wait, t0)
        for n in names:
            tail = (WORK / "runs" / f"{n}.log").read_text().splitlines()[-3:]
            log(f"{n}: " + " | ".join(tail)[-600:])
        if args.collect:
            collect(names, Path(args.collect))
    return 0


if __name__ == "__main__":
    sys.exit(main())
