"""A preprocessing run: discover → split → shard plan → parallel processing → atomic shards + manifest.

Resumable: a shard listed as finished in ``manifest.json`` (same content config, same clip ids)
whose file exists is not redone. Bad inputs are skipped and reported, never fatal.
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


def _load_previous(out: Path, cfg: PreprocessConfig) -> dict[str, dict]:
    """Finished shards of an earlier run with the same content config."""
    path = out / MANIFEST
    if not path.exists():
        return {}
    try:
        prev = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if prev.get("content_config") != json.loads(json.dumps(cfg.content_dict())):
        return {}
    return {s["name"]: s for s in prev.get("shards", []) if s.get("finished")}


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
    """Preprocess ``input_path`` into sharded TFRecords under ``output``; returns the manifest."""
    t0 = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
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
    stale = sorted(f for f in out.glob("*-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].tfrecord")
                   if f.name not in planned)
    for f in stale:
        log.warning("removing %s: a shard of an earlier run that this run does not write", f)
        f.unlink()

    done, todo = [], []
    for sh in shards:
        prev = previous.get(sh.name)
        if prev and prev.get("ids_hash") == sh.ids_hash and (out / sh.name).exists() == (prev["written"] > 0):
            done.append(prev)
        else:
            todo.append(sh)
    for sk in skipped:
        log.warning("skipped %s: %s", sk.path, sk.reason)

    manifest = {
        "version": __version__,
        "input": str(input_path),
        "output": str(out),
        "dataset": cfg.dataset,
        "written": 0,
        "frames": 0,
        "seconds": 0.0,
        "skipped": [s.to_dict() for s in skipped],
        "excluded_by_split_list": excluded,
        "resumed_shards": len(done),
        "removed_stale_shards": [f.name for f in stale],
        "splits": {},
        "shards": list(done),
        "config": cfg.to_dict(),
        "content_config": cfg.content_dict(),
    }
    for d in done:
        manifest["skipped"].extend(d.get("skipped", []))

    def refresh():
        manifest["written"] = sum(s["written"] for s in manifest["shards"])
        manifest["frames"] = sum(s["frames"] for s in manifest["shards"])
        splits: dict[str, int] = defaultdict(int)
        for s in manifest["shards"]:
            splits[s["split"]] += s["written"]
        manifest["splits"] = dict(sorted(splits.items()))
        manifest["seconds"] = round(time.perf_counter() - t0, 3)
        manifest["shards"].sort(key=lambda s: s["name"])
        rio.write_json_atomic(out / MANIFEST, manifest)

    pending = [it for sh in todo for it in sh.items]
    bar = _progress(len(pending), progress)
    results = _results(pending, cfg)
    writer = None
    try:
        for sh in todo:
            writer = rio.AtomicShardWriter(out / sh.name, cfg.compression)
            entry = {"name": sh.name, "split": sh.split, "items": len(sh.items), "written": 0, "frames": 0,
                     "skipped": [], "ids_hash": sh.ids_hash, "finished": False}
            for _ in sh.items:
                item, (status, payload, stats) = next(results)
                if status == "ok":
                    writer.write(payload)
                    entry["written"] += 1
                    entry["frames"] += stats["frames"]
                else:
                    entry["skipped"].append({"path": item.path, "reason": payload})
                    log.warning("skipped %s: %s", item.path, payload)
                if bar is not None:
                    bar.update(1)
            if entry["written"]:
                writer.commit()
            else:
                writer.abort()  # no empty shards: a shard on disk always holds records
            writer = None
            entry["finished"] = True
            manifest["shards"].append(entry)
            manifest["skipped"].extend(entry["skipped"])
            refresh()
    finally:
        if writer is not None:
            writer.abort()
        if bar is not None:
            bar.close()
        close = getattr(results, "close", None)
        if close:
            close()
    refresh()
    return manifest
