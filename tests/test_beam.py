"""Preprocessing with Apache Beam (DirectRunner) gives the local run's records; records on ``ram://``."""

import json
import os
import uuid

import numpy as np
import pytest

from conftest import REPO, make_grid_layout

beam = pytest.importorskip("apache_beam")

from lipkeras.preprocess import PreprocessConfig, run  # noqa: E402
from lipkeras.preprocess import beam as pbeam  # noqa: E402
from lipkeras.preprocess import pipeline as pipe  # noqa: E402
from lipkeras.preprocess.sources import Item  # noqa: E402
from lipkeras.records import io as rio  # noqa: E402
from lipkeras.records.inspect import iter_records  # noqa: E402
from lipkeras.records.schema import decode_numpy  # noqa: E402

BAD = {"empty": b"", "corrupt": np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes()}


def _cfg(**kw):
    # one second per clip keeps the test short; several shards and splits, so grouping is exercised
    base = dict(dataset="grid", workers=1, shard_size=3, max_seconds=1.0, split_ratio=(0.6, 0.2, 0.2), seed=3,
                audio=True)
    return PreprocessConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def grid_with_bad(tmp_path_factory, grid_sample):
    """The bundled GRID sample plus an empty and a corrupt video that have transcripts (so they reach processing)."""
    root = make_grid_layout(tmp_path_factory.mktemp("gridbad"), sorted((grid_sample / "s1").glob("*.mp4")))
    align = next((root / "align" / "s1").glob("*.align")).read_text()
    for name, data in BAD.items():
        (root / "s1" / f"{name}.mp4").write_bytes(data)
        (root / "align" / "s1" / f"{name}.align").write_text(align)
    return root


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, grid_with_bad):
    out = tmp_path_factory.mktemp("local")
    return out, run(grid_with_bad, out, _cfg(), progress=False)


@pytest.fixture(scope="module")
def beam_run(grid_with_bad):
    out = f"ram://beam-{uuid.uuid4().hex}/records"  # TF's in-memory filesystem: the gfile path of every writer
    return out, pbeam.run(grid_with_bad, out, _cfg())


def _records(path) -> dict[str, dict]:
    recs = [decode_numpy(raw) for _, raw in iter_records(str(path))]
    ids = [r["clip_id"] for r in recs]
    assert len(ids) == len(set(ids)), f"a clip written twice under {path}"
    return {r["clip_id"]: r for r in recs}


def _assert_same_record(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_beam_writes_the_local_runs_records(local_run, beam_run):
    (lout, lm), (bout, bm) = local_run, beam_run
    lm = json.loads(json.dumps(lm))  # tuples as lists, as Beam's manifest comes back from manifest.json
    local, beamed = _records(lout), _records(bout)
    assert len(local) == 10 and set(local) == set(beamed)
    for cid in local:
        _assert_same_record(local[cid], beamed[cid])  # frames, landmarks, audio bit for bit; split, transcript
    assert len({r["split"] for r in local.values()}) == 3
    for key in ("written", "frames", "splits", "excluded_by_split_list", "config", "content_config", "version",
                "dataset"):
        assert lm[key] == bm[key], key
    assert [(s["name"], s["written"], s["items"], s["ids_hash"]) for s in lm["shards"]] == \
        [(s["name"], s["written"], s["items"], s["ids_hash"]) for s in bm["shards"]]
    # the same shard files, each holding the same clips in the same order
    assert sorted(map(rio.basename, rio.list_shards(lout))) == sorted(map(rio.basename, rio.list_shards(bout)))
    for shard in rio.list_shards(lout):
        in_beam = rio.join(bout, rio.basename(shard))
        assert [decode_numpy(r)["clip_id"] for _, r in iter_records(shard)] == \
            [decode_numpy(r)["clip_id"] for _, r in iter_records(in_beam)]


def test_bad_inputs_are_skipped_with_reasons_and_counted(local_run, beam_run):
    (_, lm), (bout, bm) = local_run, beam_run
    reasons = {os.path.basename(s["path"]): s["reason"] for s in bm["skipped"]}
    assert reasons == {os.path.basename(s["path"]): s["reason"] for s in lm["skipped"]}
    assert set(reasons) == {"empty.mp4", "corrupt.mp4"}
    assert "empty file" in reasons["empty.mp4"] and "not a readable video" in reasons["corrupt.mp4"]
    c = bm["beam_counters"]
    assert c["clips_processed"] == 12 and c["clips_written"] == 10 and c["clips_skipped"] == 2
    assert c["frames_written"] == bm["frames"] and c["shards_written"] == len(bm["shards"])
    on_disk = json.loads(rio.read_text(rio.join(bout, "manifest.json")))
    assert "beam_counters" not in on_disk and on_disk["written"] == 10


def test_rerun_resumes_and_never_duplicates(beam_run, grid_with_bad):
    out, first = beam_run
    names = [s["name"] for s in first["shards"]]
    first_ids = set(_records(out))
    again = pbeam.run(grid_with_bad, out, _cfg())
    assert again["resumed_shards"] == len(names) and again["written"] == 10
    assert again["beam_counters"].get("clips_processed", 0) == 0
    # as if a run had died before this shard was renamed into place: only it is redone
    lost = next(s for s in first["shards"] if s["written"])
    rio.remove(rio.join(out, lost["name"]))
    third = pbeam.run(grid_with_bad, out, _cfg())
    assert third["resumed_shards"] == len(names) - 1
    assert third["beam_counters"]["clips_processed"] == lost["items"]
    assert set(_records(out)) == first_ids and third["written"] == 10
    assert sorted(s["name"] for s in third["shards"]) == sorted(names)


def test_a_retried_shard_write_replaces_the_file(tmp_path):
    """A bundle retried after its shard was written rewrites the same file: the records are there once."""
    items = [Item(f"/v/{i}.mp4", f"s1/c{i}") for i in range(3)]
    results = [(i, it, ("ok", f"record-{i}".encode(), {"frames": 5})) for i, it in enumerate(items)]
    name = rio.shard_name("train", 0, 1)
    fn = pbeam.WriteShard(str(tmp_path), {name: ("train", 3)}, "gzip")
    fn.setup()
    for attempt in range(2):
        (entry,) = list(fn.process((name, list(reversed(results)))))
        assert entry["written"] == 3 and entry["frames"] == 15 and entry["finished"]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left either
    assert [raw for _, raw in iter_records(str(tmp_path))] == [b"record-0", b"record-1", b"record-2"]
    with pytest.raises(RuntimeError, match="2 of 3 planned clips"):
        list(fn.process((name, results[:2])))


def test_records_on_ram_filesystem_read_back_with_tf_data(beam_run, local_run):
    from lipkeras.records import mouth_dataset

    out, m = beam_run
    assert all(f.startswith("ram://") for f in rio.list_shards(out))
    n, frames = 0, 0
    for batch in mouth_dataset(out, batch_size=4, normalization=None):
        n += int(batch["frames"].shape[0])
        frames += int(batch["frame_lengths"].numpy().sum())
    assert n == m["written"] == 10 and frames == m["frames"]
    train = list(mouth_dataset(out, batch_size=16, normalization=None, split="train"))
    assert sum(int(b["frames"].shape[0]) for b in train) == m["splits"]["train"]


def test_local_run_writes_to_ram_filesystem(grid_sample, tmp_path):
    from lipkeras.records import mouth_dataset

    root = make_grid_layout(tmp_path / "g", sorted((grid_sample / "s1").glob("*.mp4"))[:2])
    out = f"ram://local-{uuid.uuid4().hex}/grid2"
    m = run(root, out, _cfg(rois=("mouth",), split_ratio=(), shard_size=1, mouth_size=32), progress=False)
    assert m["written"] == 2 and json.loads(rio.read_text(rio.join(out, "manifest.json")))["written"] == 2
    assert [rio.basename(f) for f in rio.list_shards(out)] == ["all-00000-of-00002.tfrecord",
                                                              "all-00001-of-00002.tfrecord"]
    ids = sorted(b["clip_id"].numpy()[0].decode() for b in mouth_dataset(out, batch_size=1, normalization=None))
    assert ids == sorted(f"s1/{p.stem}" for p in sorted((grid_sample / "s1").glob("*.mp4"))[:2])
    again = run(root, out, _cfg(rois=("mouth",), split_ratio=(), shard_size=1, mouth_size=32), progress=False)
    assert again["resumed_shards"] == 2


def test_cli_passes_unknown_flags_to_beam_multi_processing(grid_sample, tmp_path, monkeypatch, capsys):
    """``lipkeras preprocess --runner beam`` with the benchmark's DirectRunner options: two worker processes."""
    from lipkeras.cli import main

    # the worker processes import lipkeras: this tree's, as the driver does
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    root = make_grid_layout(tmp_path / "g", sorted((grid_sample / "s1").glob("*.mp4"))[:2])
    out = tmp_path / "out"
    rc = main(["preprocess", str(root), str(out), "--dataset", "grid", "--rois", "mouth", "--mouth-size", "32",
               "--max-seconds", "1", "--shard-size", "1", "--json", "--runner", "beam",
               "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and summary["written"] == 2 and summary["runner"] == "beam" and summary["skipped"] == 0
    assert len(_records(out)) == 2 and len(rio.list_shards(out)) == 2


def test_local_runner_rejects_beam_flags(grid_sample, tmp_path, capsys):
    from lipkeras.cli import main
    from lipkeras.preprocess.cli import main as preprocess_main

    for entry, argv in ((main, ["preprocess"]), (preprocess_main, [])):
        rc = entry(argv + [str(grid_sample), str(tmp_path / "out"), "--dataset", "grid",
                           "--direct_num_workers", "2"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "unrecognized arguments: --direct_num_workers 2" in err[0]
        assert not (tmp_path / "out").exists()


def test_plan_is_shared_by_both_runners(grid_with_bad, tmp_path):
    plan = pipe.plan_run(grid_with_bad, tmp_path / "o", _cfg())
    assert sum(len(s.items) for s in plan.todo) == 12 and plan.done == [] and plan.skipped == []
    assert {s.split for s in plan.shards} == {"train", "val", "test"}


def test_beam_module_entry_point_defaults_to_beam():
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    r = subprocess.run([sys.executable, "-m", "lipkeras.preprocess.beam", "--help"], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("usage: python -m lipkeras.preprocess.beam")
    assert "--beam-runner" in r.stdout and "Beam pipeline options" in r.stdout
