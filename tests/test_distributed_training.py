"""Training under tf.distribute: two replicas (MirroredStrategy on two logical CPU devices, and
MultiWorkerMirroredStrategy over two processes on loopback ports) take the same steps as one
replica on the same global batch, for the lip-reading and the emotion stage; a killed mirrored
run resumes from its BackupAndRestore state.

Every run is a fresh process (``tests/strategy_worker.py``): logical devices and the multi-worker
cluster can only be set up before TensorFlow starts. The runs switch off what draws randomness
per replica (dropout, augmentation; the faces are mirror-symmetric, so the emotion stage's
always-on flip changes nothing) and use full global batches only, so any difference is float
rounding: the per-epoch losses must agree to LOSS_RTOL (bit-identical on the 2-vCPU CPU box).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, tiny_clip

WORKER = REPO / "tests" / "strategy_worker.py"
LOSS_RTOL = 1e-4
STAGES = ["lipnet", "emotion"]
TEXTS = ["bin blue at f two now", "place red", "set white by k nine again", "lay green", "bin red at",
         "place blue", "set green by", "lay white"]


@pytest.fixture(scope="module")
def lip_records(tmp_path_factory) -> Path:
    """8 tiny mouth clips (32×32, 5 to 12 frames) in one shard."""
    from lipkeras.records import io as rio
    from lipkeras.records import schema

    out = tmp_path_factory.mktemp("lip_records")
    writer = rio.AtomicShardWriter(out / rio.shard_name("train", 0, 1), "gzip")
    for i, text in enumerate(TEXTS):
        writer.write(schema.encode(tiny_clip(f"s1/c{i}", T=5 + i, transcript=text, seed=i)))
    writer.commit()
    return out


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory) -> Path:
    """8 mirror-symmetric 16×16 faces for each of two emotions (ROOT/<label>/*.png)."""
    import cv2

    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for k, label in enumerate(("happy", "sad")):
        (root / label).mkdir()
        for i in range(8):
            half = rng.integers(0, 128, (16, 8), dtype=np.uint8) + 64 * k
            cv2.imwrite(str(root / label / f"{i}.png"), np.concatenate([half, half[:, ::-1]], axis=1))
    return root


def stage_args(stage: str, data: Path) -> list[str]:
    """Two epochs of two full global batches of 4, nothing random per replica."""
    common = ["--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "4"]
    if stage == "lipnet":  # 4 training clips (split 4/4)
        return ["--stage", "lipnet", "--data", str(data), "--model", "fast_tiny", "--dropout", "0", "--crop-size", "0",
                "--flip", "false", "--time-masking", "false", "--split-ratio", "0.5,0.5", "--split-by", "clip",
                "--examples", "0", *common]
    # 12 training faces, 4 validation faces
    return ["--stage", "emotion", "--data", str(data), "--input-size", "16", "--filters", "4,8", "--kernel-sizes",
            "3,3", "--dense-units", "8", "--dropout", "0", "--dense-dropout", "0", "--cutout", "0", "--rotation", "0",
            "--zoom", "0", "--contrast", "0", "--val-fraction", "0.25", *common]


def start(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output[-3000:]
    return output


def losses(out: Path) -> list[float]:
    return [float(row["loss"]) for row in csv.DictReader((out / "history.csv").open())]


@pytest.fixture(scope="module")
def one_replica(lip_records, face_folder, tmp_path_factory) -> dict:
    """{stage: per-epoch losses} of the default strategy (one replica), both stages at once."""
    root = tmp_path_factory.mktemp("one_replica")
    runs = {stage: start([*stage_args(stage, data), "--out", str(root / stage)])
            for stage, data in (("lipnet", lip_records), ("emotion", face_folder))}
    result = {}
    for stage, proc in runs.items():
        output = finish(proc)
        assert "1 replica, global batch 4 = 4 per replica; learning rate not scaled" in output
        result[stage] = losses(root / stage)
    return result


@pytest.mark.parametrize("stage", STAGES)
def test_mirrored_two_replicas_match_one_replica(stage, one_replica, lip_records, face_folder, tmp_path):
    data = lip_records if stage == "lipnet" else face_folder
    output = finish(start(["--logical-cpus", "2", *stage_args(stage, data), "--strategy", "mirrored",
                           "--out", str(tmp_path / "run")]))
    assert "MirroredStrategy: 2 replicas, global batch 4 = 2 per replica; learning rate not scaled" in output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["strategy"], summary["replicas"], summary["per_replica_batch"]) == ("mirrored", 2, 2.0)
    mirrored = losses(tmp_path / "run")
    assert len(mirrored) == 2 and mirrored[1] != mirrored[0]  # it trained
    np.testing.assert_allclose(mirrored, one_replica[stage], rtol=LOSS_RTOL)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.parametrize("stage", STAGES)
def test_multi_worker_two_processes_match_one_replica(stage, one_replica, lip_records, face_folder, tmp_path):
    data = lip_records if stage == "lipnet" else face_folder
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = [start([*stage_args(stage, data), "--strategy", "multi-worker", "--out", str(tmp_path / f"w{i}")],
                     env={"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
               for i in range(2)]
    outputs = [finish(w) for w in workers]
    assert "MultiWorkerMirroredStrategy: 2 replicas on 2 workers, global batch 4 = 2 per replica" in outputs[0]
    for i in range(2):  # both workers took the same (all-reduced) steps
        np.testing.assert_allclose(losses(tmp_path / f"w{i}"), one_replica[stage], rtol=LOSS_RTOL)


def test_mirrored_run_resumes_from_backup(lip_records, tmp_path):
    run = ["--logical-cpus", "2", *stage_args("lipnet", lip_records), "--strategy", "mirrored",
           "--out", str(tmp_path / "run")]
    run[run.index("--epochs") + 1] = "3"
    killed = start(["--crash-in-epoch", "2", *run])
    output, _ = killed.communicate(timeout=240)
    assert killed.returncode != 0 and "killed" in output
    assert json.loads((tmp_path / "run" / "backup" / "training_metadata.json").read_text())["epoch"] == 2
    finish(start(run))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and summary["replicas"] == 2  # epoch 3 only: 1 and 2 came from the backup
    assert [int(r["epoch"]) for r in csv.DictReader((tmp_path / "run" / "history.csv").open())] == [0, 1, 2]


def test_mirrored_last_batch_of_one_is_dropped_not_fatal(lip_records, tmp_path):
    # 5 training clips in global batches of 4: the last batch of 1 would leave a replica with no example
    run = ["--logical-cpus", "2", *stage_args("lipnet", lip_records), "--strategy", "mirrored",
           "--out", str(tmp_path / "run")]
    for flag, value in (("--split-ratio", "0.625,0.375"), ("--epochs", "1"), ("--steps-per-epoch", "0")):
        run[run.index(flag) + 1] = value
    output = finish(start(run))
    assert "train clips 5" in output
    assert "learning rate not scaled; training batches smaller than the global batch dropped" in output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and np.isfinite(summary["last"]["loss"])
