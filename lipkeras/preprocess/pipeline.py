"""A preprocessing run: discover → split → shard plan → parallel processing → atomic shards + manifest.

Resumable: a shard listed as finished in ``manifest.json`` (same content config, same clip ids)
whose file exists is not redone. Bad inputs are skipped and reported, never fatal.

The pieces (:func:`plan_run`, :func:`write_shard`, :func:`new_manifest`, :func:`write_manifest`)
are shared by the local process pool (:func:`run`) and the Beam pipeline (``lipkeras.preprocess.beam``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

from lipkeras import __version__
from lipkeras.preprocess import sources as src
from lipkeras.preprocess import splits as spl
from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.records import io as rio

log = logging.getLogger("lipkeras.preprocess")
MANIFEST = "manifest.json"


@dataclasses.dataclass
class Shard:
    name: str
    split: str
    items: list

    @property
    def ids_hash(self) -> str:
        return hashlib.sha1("\n".join(it.clip_id for it in self.items).encode()).hexdigest()


def plan_shards(items: list, shard_size: int) -> list[Shard]:
    by_split: dict[str, list] = defaultdict(list)
    for it in sorted(items, key=lambda i: i.clip_id):
        by_split[it.split].append(it)
    shards = []
    for split in sorted(by_split):
        group = by_split[split]
        n = max(1, -(-len(group) // shard_size))
        for k in range(n):
            shards.append(Shard(rio.shard_name(split, k, n), split, group[k * shard_size:(k + 1) * shard_size]))
    return shards


def _load_previous(out, cfg: PreprocessConfig) -> dict[str, dict]:
    """Finished shards of an earlier run with the same content config."""
    path = rio.join(out, MANIFEST)
    try:
        if not rio.exists(path):
            return {}
        prev = json.loads(rio.read_text(path))
    except (OSError, ValueError):
        return {}
    if prev.get("content_config") != json.loads(json.dumps(cfg.content_dict())):
        return {}
    return {s["name"]: s for s in prev.get("shards", []) if s.get("finished")}


@dataclasses.dataclass
class RunPlan:
    """What a run does, the same for every runner: the shards to write (``todo``), the finished ones
    an earlier run left (``done``, resumed as they are) and what discovery already rejected."""

    input: str
    output: str
    cfg: PreprocessConfig
    shards: list[Shard]
    todo: list[Shard]
    done: list[dict]
    skipped: list  # sources.Skipped found by discovery
    excluded: int
    stale: list[str]  # shard files of another plan, removed


def plan_run(input_path, output, cfg: PreprocessConfig) -> RunPlan:
    """Discover inputs, assign splits, plan shards and read the resume state of ``output`` (local or
    any ``tf.io.gfile`` path). Prepares ``output``: creates it, removes temp files of killed runs and
    shard files this plan does not write."""
    out = str(output)
    rio.makedirs(out)
    rio.remove_stale_temps(out)
    items, skipped = src.discover(input_path, cfg.dataset, cfg.require_transcript, cfg.audio)
    untranscribed = [s for s in skipped if s.reason.startswith(src.MISSING_TRANSCRIPT)]
    if not items and untranscribed:
        raise ValueError(f"{input_path}: none of the {len(untranscribed)} videos has a transcript (.txt, .align "
                         "or labels.csv entry); pass --allow-missing-transcripts to keep them without one")
    items, excluded = spl.assign(items, cfg)
    shards = plan_shards(items, cfg.shard_size)
    previous = _load_previous(out, cfg)
    # Shards of an earlier run with another plan (other shard size, splits or inputs) would be read
    # together with the new ones: remove every shard-named file that this plan does not produce.
    planned = {sh.name for sh in shards}
    stale = sorted(f for f in rio.glob_in(out, rio.SHARD_GLOB) if rio.basename(f) not in planned)
    for f in stale:
        log.warning("removing %s: a shard of an earlier run that this run does not write", f)
        rio.remove(f)
    done, todo = [], []
    for sh in shards:
        prev = previous.get(sh.name)
        if prev and prev.get("ids_hash") == sh.ids_hash and rio.exists(rio.join(out, sh.name)) == (prev["written"] > 0):
            done.append(prev)
        else:
            todo.append(sh)
    return RunPlan(str(input_path), out, cfg, shards, todo, done, skipped, excluded, [rio.basename(f) for f in stale])


def new_entry(shard: Shard) -> dict:
    """The manifest entry of a shard before any of its clips is processed."""
    return {"name": shard.name, "split": shard.split, "items": len(shard.items), "written": 0, "frames": 0,
            "landmarked_frames": 0, "skipped": [], "ids_hash": shard.ids_hash, "finished": False}


def add_result(entry: dict, writer: rio.AtomicShardWriter, item, result: tuple) -> None:
    """One clip's ``process`` result into its shard: the record to ``writer``, the counts or the skip
    reason to ``entry``."""
    status, payload, stats = result
    if status == "ok":
        writer.write(payload)
        entry["written"] += 1
        entry["frames"] += stats["frames"]
        entry["landmarked_frames"] += stats.get("landmarked", stats["frames"])
    else:
        entry["skipped"].append({"path": item.path, "reason": payload})
        log.warning("skipped %s: %s", item.path, payload)


def write_shard(output, shard: Shard, results, compression: str, on_result=None) -> dict:
    """Write ``shard`` whole from ``results`` (``(item, result)`` in the shard's item order): a temp
    file renamed into place once complete, none when no clip was kept. Returns its finished entry."""
    entry = new_entry(shard)
    writer = rio.AtomicShardWriter(rio.join(output, shard.name), compression)
    try:
        for item, result in results:
            add_result(entry, writer, item, result)
            if on_result is not None:
                on_result()
        if entry["written"]:
            writer.commit()
        else:
            writer.abort()  # no empty shards: a shard on disk always holds records
    except BaseException:
        writer.abort()
        raise
    entry["finished"] = True
    return entry


def new_manifest(plan: RunPlan) -> dict:
    """The manifest before any shard of this run is written: resumed shards and discovery's skips."""
    manifest = {
        "version": __version__,
        "input": plan.input,
        "output": plan.output,
        "dataset": plan.cfg.dataset,
        "written": 0,
        "frames": 0,
        "seconds": 0.0,
        "skipped": [s.to_dict() for s in plan.skipped],
        "excluded_by_split_list": plan.excluded,
        "resumed_shards": len(plan.done),
        "removed_stale_shards": list(plan.stale),
        "splits": {},
        "shards": list(plan.done),
        "config": plan.cfg.to_dict(),
        "content_config": plan.cfg.content_dict(),
    }
    for d in plan.done:
        manifest["skipped"].extend(d.get("skipped", []))
    return manifest


def add_entry(manifest: dict, entry: dict) -> None:
    manifest["shards"].append(entry)
    manifest["skipped"].extend(entry["skipped"])


def write_manifest(manifest: dict, output, seconds: float) -> dict:
    """Totals from the shard entries, then ``manifest.json`` written atomically."""
    manifest["written"] = sum(s["written"] for s in manifest["shards"])
    manifest["frames"] = sum(s["frames"] for s in manifest["shards"])
    # frames the landmarker ran on (the rest interpolated: --landmark-every)
    manifest["landmarked_frames"] = sum(s.get("landmarked_frames", s["frames"]) for s in manifest["shards"])
    splits: dict[str, int] = defaultdict(int)
    for s in manifest["shards"]:
        splits[s["split"]] += s["written"]
    manifest["splits"] = dict(sorted(splits.items()))
    manifest["seconds"] = round(seconds, 3)
    manifest["shards"].sort(key=lambda s: s["name"])
    rio.write_json_atomic(rio.join(output, MANIFEST), manifest)
    return manifest


_WORKER_CFG: PreprocessConfig | None = None


def _init_worker(cfg_dict: dict) -> None:
    global _WORKER_CFG
    from lipkeras import _quiet  # noqa: F401

    _WORKER_CFG = PreprocessConfig(**cfg_dict)


def _work(item):
    from lipkeras.preprocess.process import process

    return item, process(item, _WORKER_CFG)


def _results(items: list, cfg: PreprocessConfig):
    """(item, result) in order, computed in ``cfg.workers`` spawned processes (or inline for 1)."""
    if cfg.workers <= 1 or len(items) <= 1:
        from lipkeras.preprocess.process import process

        for it in items:
            yield it, process(it, cfg)
        return
    # spawn, not fork: TensorFlow and MediaPipe hold threads that fork would copy half-way.
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(cfg.workers, len(items)), initializer=_init_worker, initargs=(cfg.to_dict(),)) as pool:
        yield from pool.imap(_work, items, chunksize=1)


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    # None: tqdm's own choice, off when stderr is not a terminal (a log file would get every redraw)
    return tqdm(total=total, unit="clip", disable=True if not enabled or not total else None, file=sys.stderr,
                dynamic_ncols=True)


def run(input_path: str | Path, output: str | Path, cfg: PreprocessConfig, progress: bool = True) -> dict:
    """Preprocess ``input_path`` into sharded TFRecords under ``output`` (a local folder or any
    ``tf.io.gfile`` path) with a local process pool; returns the manifest."""
    t0 = time.perf_counter()
    plan = plan_run(input_path, output, cfg)
    for sk in plan.skipped:
        log.warning("skipped %s: %s", sk.path, sk.reason)
    manifest = new_manifest(plan)
    pending = [it for sh in plan.todo for it in sh.items]
    bar = _progress(len(pending), progress)
    results = _results(pending, cfg)
    try:
        for sh in plan.todo:
            entry = write_shard(plan.output, sh, (next(results) for _ in sh.items), cfg.compression,
                                on_result=bar.update if bar is not None else None)
            add_entry(manifest, entry)
            write_manifest(manifest, plan.output, time.perf_counter() - t0)
    finally:
        if bar is not None:
            bar.close()
        close = getattr(results, "close", None)
        if close:
            close()
    return write_manifest(manifest, plan.output, time.perf_counter() - t0)
