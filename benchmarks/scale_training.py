"""Training throughput of the lip-reading stage under MirroredStrategy: 1 vs 2 replicas.

    python benchmarks/scale_training.py [--data tfrecords/grid_sample] [--model fast] [--batch-size 8]
                                        [--steps 10] [--replicas 1,2]

Each replica count runs in a process of its own (logical CPU devices can only be made before
TensorFlow starts): MirroredStrategy over that many logical CPU devices (or the GPUs, where there
are some), the stage's model and optimiser (``build_and_compile``, BatchNorm synchronised), its
training data (``lipkeras.train.lipreading.datasets``), the same global batch. After a warm-up
fit of 3 steps (tracing), ``--steps`` steps are timed. On one CPU the replicas share its cores,
so this measures the strategy's overhead there, not a speed-up; on a machine with GPUs it
measures the scaling. Prints the figures and writes ``benchmarks/results/scale_training.json``.

Records: GRID mouth records, e.g. ``python -m lipkeras preprocess lipkeras/samples/grid
tfrecords/grid_sample --dataset grid`` (the bundled sample) or ``tfrecords/grid_s1``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's lipkeras


def measure(data: str, replicas: int, model: str = "fast", batch_size: int = 8, steps: int = 10,
            crop_size: int = 88) -> dict:
    """Steps per second of ``replicas`` mirrored replicas in a fresh process (the figures as a dict)."""
    cmd = [sys.executable, __file__, "--worker", "--data", data, "--replicas", str(replicas), "--model", model,
           "--batch-size", str(batch_size), "--steps", str(steps), "--crop-size", str(crop_size)]
    run = subprocess.run(cmd, check=False, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"{replicas} replicas: the measuring process failed:\n{run.stderr[-2000:]}")
    return json.loads(lines[-1])


def _worker(args) -> dict:
    from lipkeras import _quiet

    tf = _quiet.import_tensorflow()
    if not tf.config.list_physical_devices("GPU"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.replicas)
    import keras

    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.lipreading import as_xy, build_and_compile, datasets
    from lipkeras.train.strategy import describe, get_strategy, model_scope

    cfg = LipReadingConfig(data=args.data, model=args.model, batch_size=args.batch_size, crop_size=args.crop_size,
                           strategy="mirrored", epochs=1, split_ratio="0.8,0.2", split_by="clip")  # 8 of the sample's 10 clips: full batches of 8
    keras.utils.set_random_seed(0)
    train, _ = datasets(cfg)
    train = train.map(as_xy).repeat()
    with model_scope(cfg.strategy) as strategy:
        model = build_and_compile(cfg, args.steps, strategy)
    model.fit(train, epochs=1, steps_per_epoch=3, verbose=0)  # trace and warm up
    t0 = time.perf_counter()
    model.fit(train, epochs=1, steps_per_epoch=args.steps, verbose=0)
    seconds = time.perf_counter() - t0
    strategy = get_strategy("mirrored")
    return {"replicas": int(strategy.num_replicas_in_sync), "devices": list(strategy.extended.worker_devices),
            "model": args.model, "global_batch": args.batch_size,
            "per_replica_batch": args.batch_size / strategy.num_replicas_in_sync, "steps": args.steps,
            "seconds": round(seconds, 2), "steps_per_second": round(args.steps / seconds, 3),
            "clips_per_second": round(args.steps * args.batch_size / seconds, 2),
            "strategy": describe(strategy, args.batch_size)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="tfrecords/grid_sample", help="GRID mouth records")
    p.add_argument("--model", default="fast", help="preset of lipkeras.models.PRESETS")
    p.add_argument("--batch-size", type=int, default=8, help="global batch")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per replica count")
    p.add_argument("--crop-size", type=int, default=88)
    p.add_argument("--replicas", default="1,2", help="replica counts to compare")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale_training.json"))
    args = p.parse_args(argv)
    if not Path(args.data).exists():
        print(f"scale_training: error: {args.data}: no records (python -m lipkeras preprocess lipkeras/samples/grid "
              f"{args.data} --dataset grid)", file=sys.stderr)
        return 2
    if args.worker:
        args.replicas = int(args.replicas)
        print(json.dumps(_worker(args)), flush=True)
        return 0
    import host  # benchmarks/host.py

    runs = []
    for n in (int(r) for r in args.replicas.split(",")):
        runs.append(measure(args.data, n, args.model, args.batch_size, args.steps, args.crop_size))
        print(f"{n} replica(s): {runs[-1]['steps_per_second']} steps/s, {runs[-1]['clips_per_second']} clips/s "
              f"({runs[-1]['strategy']})", flush=True)
    base = runs[0]["steps_per_second"]
    result = {"host": host.describe(), "data": args.data, "runs": runs,
              "speedup": {str(r["replicas"]): round(r["steps_per_second"] / base, 3) for r in runs},
              "note": "logical CPU devices share the host's cores: on CPU this is the strategy's overhead"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(json.dumps(result["speedup"]), f"→ {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
