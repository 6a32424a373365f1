"""Deterministic train/val/test assignment: by file list, by speaker/actor, or by seeded ratio."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

SPLITS = ("train", "val", "test")


def _norm_speaker(s: str) -> str:
    m = re.fullmatch(r"(?:s|actor_?|spk)?0*(\d+)", str(s).strip().lower())
    return m.group(1) if m else str(s).strip().lower()


def read_split_list(path: str | Path) -> dict[str, str]:
    """id → split from a JSON ``{split: [ids]}``, a folder of ``<split>.txt`` files, or ``id,split`` lines."""
    path = Path(path)
    table: dict[str, str] = {}
    if path.is_dir():
        for f in sorted(path.glob("*.txt")):
            for line in f.read_text().split():
                table[line.strip()] = f.stem
    elif path.suffix.lower() == ".json":
        data = json.loads(path.read_text())
        for split, ids in data.items():
            for i in ids:
                table[str(i)] = split
    else:
        for line in path.read_text().splitlines():
            parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
            if len(parts) >= 2 and parts[0].lower() not in ("id", "clip_id"):
                table[parts[0]] = parts[1]
    if not table:
        raise ValueError(f"{path}: split list is empty")
    return table


def ratio_split(ids: list[str], ratio: tuple[float, ...], seed: int) -> dict[str, str]:
    """Order ids by a seeded hash (stable when files are added), then cut by ``ratio``."""
    order = sorted(ids, key=lambda i: hashlib.sha1(f"{seed}:{i}".encode()).hexdigest())
    n = len(order)
    cuts, acc = [], 0.0
    for r in ratio[:-1]:
        acc += r
        cuts.append(int(round(acc * n)))
    out, start = {}, 0
    for name, end in zip(SPLITS, cuts + [n]):
        for i in order[start:end]:
            out[i] = name
        start = end
    return out


def assign(items, cfg) -> tuple[list, int]:
    """Set ``item.split`` for every item; returns (kept items, number left out by a split list)."""
    if cfg.split_list:
        table = read_split_list(cfg.split_list)
        kept = []
        for it in items:
            stem = Path(it.path).stem
            split = table.get(it.clip_id) or table.get(stem)
            if split is not None:
                it.split = split
                kept.append(it)
        return kept, len(items) - len(kept)
    if cfg.val_speakers or cfg.test_speakers:
        val = {_norm_speaker(s) for s in cfg.val_speakers}
        test = {_norm_speaker(s) for s in cfg.test_speakers}
        for it in items:
            spk = _norm_speaker(it.speaker)
            it.split = "test" if spk in test else "val" if spk in val else "train"
        return items, 0
    if cfg.split_ratio:
        table = ratio_split([it.clip_id for it in items], cfg.split_ratio, cfg.seed)
        for it in items:
            it.split = table[it.clip_id]
        return items, 0
    for it in items:
        it.split = it.split or cfg.split_name  # image folders may carry their own train/test split
    return items, 0
