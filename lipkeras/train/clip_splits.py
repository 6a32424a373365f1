"""Which clips of a records folder train, validate and test a run, decided once per run.

Precedence (the first rule that applies decides):

1. ``--train-ids/--val-ids/--test-ids`` (files of ids, or comma-separated ids) and/or
   ``--train-split/--val-split`` (the records' split field): the user's own choice; a missing
   training list means "every other clip".
2. ``--split-ratio`` / ``--val-speakers`` / ``--test-speakers``: a seeded split of the records'
   clips, by speaker (``--split-by speaker``: no speaker in two splits) or by clip.
3. The records' own ``split`` field, when they carry ``train``/``val``/``test`` values.
4. ``lipkeras/splits/grid_s1``, only when every clip is a GRID speaker-1 clip (GRID users keep the
   committed 640/60/100 split without a flag).
5. Otherwise a one-line error naming the records and the flags to use.

Validation or test clips that are also training clips are refused unless ``allow_overlap``.
The decision is written to the run folder as ``clip_splits.json`` (and ``{split}_ids.txt``,
ready for ``--ids``/``--train-ids``), so ``lipkeras evaluate`` can tell trained-on clips apart.
Nothing here imports TensorFlow except ``read_clips``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

from lipkeras.paths import PACKAGE_ROOT
from lipkeras.records.io import write_json_atomic

GRID_S1_SPLITS = PACKAGE_ROOT / "splits" / "grid_s1"
SPLITS = ("train", "val", "test")
SPLIT_BY = ("speaker", "clip")
FILE_NAME = "clip_splits.json"


class SplitError(ValueError):
    """A split that cannot be made; the message is the one line the user sees."""


@dataclasses.dataclass(frozen=True)
class Clip:
    """What the split needs to know of a record."""

    clip_id: str
    speaker: str = ""
    split: str = ""


@dataclasses.dataclass
class SplitOptions:
    """The split fields of a training config (``ClipSplitConfig``), read with defaults so that any
    config (or a test) can supply them."""

    train_ids: str | list | None = None
    val_ids: str | list | None = None
    test_ids: str | list | None = None
    train_split: str | None = None
    val_split: str | None = None
    split_ratio: str = ""
    split_by: str = "speaker"
    val_speakers: str = ""
    test_speakers: str = ""
    split_seed: int = 0
    allow_overlap: bool = False

    @classmethod
    def of(cls, cfg) -> "SplitOptions":
        return cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls) if hasattr(cfg, f.name)})

    def explicit(self) -> bool:
        return any(v not in (None, "") for v in (self.train_ids, self.val_ids, self.test_ids, self.train_split,
                                                  self.val_split))

    def by_ratio(self) -> bool:
        return bool(self.split_ratio or self.val_speakers or self.test_speakers)


@dataclasses.dataclass
class ClipSplits:
    """The decision: clip ids per split, where they came from, and what was noticed on the way."""

    records: str
    source: str  # ids | ratio | records_split | grid_s1
    ids: dict[str, list[str]]
    detail: dict = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {s: len(self.ids[s]) for s in SPLITS}

    def to_dict(self) -> dict:
        return {"records": self.records, "source": self.source, "counts": self.counts, **self.detail,
                "warnings": self.warnings, "ids": self.ids}

    def describe(self) -> str:
        c = self.counts
        return f"clip split ({SOURCE_TEXT[self.source]}): train {c['train']}, val {c['val']}, test {c['test']}"

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        write_json_atomic(folder / FILE_NAME, self.to_dict())
        for s in SPLITS:  # one id a line: what --ids / --train-ids read
            (folder / f"{s}_ids.txt").write_text("".join(f"{i}\n" for i in self.ids[s]))
        return folder / FILE_NAME


SOURCE_TEXT = {"ids": "the given id lists / split names", "ratio": "--split-ratio / speakers",
               "records_split": "the records' split field", "grid_s1": "the GRID s1 lists, lipkeras/splits/grid_s1"}


# ---------------------------------------------------------------------------------------------- options


def parse_ratio(text: str) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` → ``(0.8, 0.1, 0.1)``: 2 or 3 non-negative fractions (train, val[, test]) summing to 1."""
    try:
        ratio = tuple(float(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        ratio = ()
    if len(ratio) not in (2, 3) or any(r < 0 for r in ratio) or abs(sum(ratio) - 1.0) > 1e-6 or ratio[0] <= 0:
        raise SplitError(f"--split-ratio must be 2 or 3 fractions train,val[,test] summing to 1 "
                         f"(e.g. 0.8,0.1,0.1), got {text!r}")
    return ratio


def check_options(split_ratio: str, split_by: str) -> None:
    """Fail at config time, before any data is read."""
    if split_by not in SPLIT_BY:
        raise SplitError(f"split_by must be one of {SPLIT_BY}, got {split_by!r}")
    if split_ratio:
        parse_ratio(split_ratio)


def names(text) -> list[str]:
    return [v.strip() for v in str(text or "").split(",") if v.strip()]


def read_id_list(value, flag: str) -> list[str]:
    """Ids from a list, a file with one id per line, or comma-separated text (``s1/a,s1/b``)."""
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    path = Path(str(value))
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if path.suffix in (".txt", ".csv", ".json") or path.is_dir():
        raise SplitError(f"{value}: {flag} file not found (give a file with one clip id per line, or ids a,b,c)")
    return names(value)


def _norm_speaker(name: str) -> str:
    from lipkeras.preprocess.splits import _norm_speaker as norm  # "2", "s2", "02", "actor_02" → "2"

    return norm(name)


# ---------------------------------------------------------------------------------------------- rules


def decide(clips: list[Clip], opts: SplitOptions, records: str) -> ClipSplits:
    """Apply the precedence of the module docstring to ``clips`` (those of ``records``)."""
    if not clips:
        raise SplitError(f"{records}: no clips in the records")
    if opts.explicit():
        result = _explicit(clips, opts, records)
        if opts.by_ratio():
            result.warnings.append("--split-ratio/--val-speakers/--test-speakers ignored: the given id lists or "
                                   "split names decide")
    elif opts.by_ratio():
        result = _by_ratio(clips, opts, records)
    elif any(c.split in SPLITS for c in clips):
        result = _records_split(clips, records)
    elif {c.clip_id for c in clips} <= grid_s1_ids():
        lists = {s: set(_grid_list(s)) for s in SPLITS}
        result = ClipSplits(records, "grid_s1", {s: sorted(c.clip_id for c in clips if c.clip_id in lists[s])
                                                 for s in SPLITS})
    else:
        speakers = {c.speaker for c in clips}
        hint = "" if len(speakers) > 1 else " --split-by clip"
        raise SplitError(f"{records}: its {len(clips)} clips carry no train/val/test split and are not GRID s1 "
                         f"clips: give --split-ratio 0.8,0.1,0.1{hint} (or --val-speakers NAMES), "
                         f"or --train-ids FILE --val-ids FILE")
    _check(result, opts)
    return result


def _explicit(clips, opts: SplitOptions, records: str) -> ClipSplits:
    present = {c.clip_id for c in clips}
    by_id = {c.clip_id: c for c in clips}
    chosen: dict[str, set[str] | None] = {}
    missing = {}
    for s in SPLITS:
        ids_value = getattr(opts, f"{s}_ids")
        split_name = getattr(opts, f"{s}_split", None)
        if ids_value in (None, "") and split_name in (None, ""):
            chosen[s] = None
            continue
        keep = set(present)
        if ids_value not in (None, ""):
            listed = set(read_id_list(ids_value, f"--{s}-ids"))
            missing[s] = len(listed - present)
            keep &= listed
        if split_name not in (None, ""):
            keep = {i for i in keep if by_id[i].split == split_name}
        chosen[s] = keep
    if chosen["val"] is None:
        raise SplitError(f"{records}: no validation clips named: give --val-ids FILE or --val-split NAME too "
                         f"(or use --split-ratio instead of id lists)")
    detail = {}
    if chosen["train"] is None:  # "train on everything else"
        chosen["train"] = present - chosen["val"] - (chosen["test"] or set())
        detail["train"] = "every clip not in val or test"
    ids = {s: sorted(chosen[s] or ()) for s in SPLITS}
    result = ClipSplits(records, "ids", ids, detail)
    for s, n in missing.items():
        if n:
            result.warnings.append(f"{n} of the --{s}-ids are not clips of {records}")
    return result


def _records_split(clips, records: str) -> ClipSplits:
    ids = {s: sorted(c.clip_id for c in clips if c.split == s) for s in SPLITS}
    other = sum(1 for c in clips if c.split not in SPLITS)
    result = ClipSplits(records, "records_split", ids)
    if other:
        result.warnings.append(f"{other} clips of {records} are in no train/val/test split and are left out")
    return result


def _by_ratio(clips, opts: SplitOptions, records: str) -> ClipSplits:
    ratio = parse_ratio(opts.split_ratio) if opts.split_ratio else (1.0,)
    shares = dict(zip(SPLITS, ratio))
    speakers = sorted({c.speaker for c in clips})
    known = {_norm_speaker(s): s for s in speakers}
    pinned: dict[str, str] = {}  # speaker → split, from --val-speakers / --test-speakers
    for s in ("val", "test"):
        for name in names(getattr(opts, f"{s}_speakers")):
            if _norm_speaker(name) not in known:
                raise SplitError(f"{records}: --{s}-speakers {name!r} is not a speaker of its clips "
                                 f"(speakers: {', '.join(repr(v) for v in speakers[:10])})")
            pinned[known[_norm_speaker(name)]] = s
            shares[s] = 0.0  # named speakers make up this split; the ratio fills the others
    free = [c for c in clips if c.speaker not in pinned]
    if opts.split_by == "speaker":
        units: dict[str, list[str]] = {}
        for c in free:
            units.setdefault(c.speaker, []).append(c.clip_id)
        if len(units) < 2 and shares.get("val", 0) > 0:
            who = "one speaker" if units and next(iter(units)) else "no speaker names"
            raise SplitError(f"{records}: its clips have {who}, so no speaker-disjoint split exists: "
                             f"give --split-by clip (or --val-speakers NAMES)")
    else:
        units = {c.clip_id: [c.clip_id] for c in free}
    assignment = {u: split for u, split in _assign_units(units, shares, opts.split_seed).items()}
    ids = {s: [] for s in SPLITS}
    for c in clips:
        split = pinned.get(c.speaker) or assignment[c.speaker if opts.split_by == "speaker" else c.clip_id]
        ids[split].append(c.clip_id)
    detail = {"split_ratio": list(ratio), "split_by": opts.split_by, "split_seed": opts.split_seed}
    if opts.split_by == "speaker" or pinned:
        detail["speakers"] = {s: sorted({c.speaker for c in clips if c.clip_id in set(ids[s])}) for s in SPLITS}
    result = ClipSplits(records, "ratio", {s: sorted(v) for s, v in ids.items()}, detail)
    if shares.get("test", 0) > 0 and not ids["test"]:
        result.warnings.append(f"too few {opts.split_by}s in {records} for a test split: it is empty")
    return result


def _assign_units(units: dict[str, list[str]], shares: dict[str, float], seed: int) -> dict[str, str]:
    """unit (speaker or clip) → split. Units are ordered by a seeded hash (stable when clips are
    added, as preprocess's ``ratio_split``); val then test take units until their share of the clips
    is as close as it gets (at least one unit each, never the last one), training takes the rest."""
    order = sorted(units, key=lambda u: hashlib.sha1(f"{seed}:{u}".encode()).hexdigest())
    total = sum(len(v) for v in units.values())
    norm = sum(shares.values()) or 1.0
    out, pos = {}, 0
    for split in ("val", "test"):
        target = shares.get(split, 0.0) / norm * total
        taken = 0
        while target > 0 and pos < len(order) - 1:
            n = len(units[order[pos]])
            if taken and abs(taken + n - target) >= abs(taken - target):
                break
            out[order[pos]] = split
            taken += n
            pos += 1
    for u in order[pos:]:
        out[u] = "train"
    return out


def _check(result: ClipSplits, opts: SplitOptions) -> None:
    c, records = result.counts, result.records
    if not c["train"]:
        raise SplitError(f"{records}: no training clips from {SOURCE_TEXT[result.source]} "
                         f"(check --train-ids / --train-split / --split-ratio)")
    if not c["val"]:
        raise SplitError(f"{records}: no validation clips from {SOURCE_TEXT[result.source]}: give "
                         f"--split-ratio 0.8,0.1,0.1 (or --val-ids FILE / --val-speakers NAMES)")
    train = set(result.ids["train"])
    overlap = {s: len(train & set(result.ids[s])) for s in ("val", "test")}
    result.detail["overlap_with_train"] = overlap
    for s, n in overlap.items():
        if not n:
            continue
        if not opts.allow_overlap:
            raise SplitError(f"{records}: {n} {s} clips are also training clips: their scores would measure "
                             f"memory, not reading; separate the lists, or give --allow-overlap true")
        result.warnings.append(f"WARNING: {n} of the {c[s]} {s} clips are also training clips (--allow-overlap "
                               f"true): {s} scores will be optimistic")


# ---------------------------------------------------------------------------------------------- I/O


def _grid_list(split: str) -> list[str]:
    return [line.strip() for line in (GRID_S1_SPLITS / f"{split}.txt").read_text().splitlines() if line.strip()]


def grid_s1_ids() -> set[str]:
    return {i for s in SPLITS for i in _grid_list(s)}


def read_clips(records) -> list[Clip]:
    """clip id, speaker and split of every record (frames are not decoded)."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()
    from lipkeras.records.reader import records as raw_records

    spec = {k: tf.io.FixedLenFeature([], tf.string, default_value="") for k in ("clip_id", "speaker", "split")}
    ds = raw_records(records).map(lambda s: tf.io.parse_single_example(s, spec), num_parallel_calls=tf.data.AUTOTUNE)
    return [Clip(r["clip_id"].decode(), r["speaker"].decode(), r["split"].decode()) for r in ds.as_numpy_iterator()]


def resolve(records, cfg) -> ClipSplits:
    """The split of ``records`` for a training config (any object with ``SplitOptions``' fields)."""
    return decide(read_clips(records), SplitOptions.of(cfg), str(records))


def for_run(records, cfg, out: str | Path) -> ClipSplits:
    """``resolve``, say what was chosen (warnings on stderr), and save it in the run folder ``out``."""
    splits = resolve(records, cfg)
    for w in splits.warnings:
        print(f"lipkeras train: {w}", file=sys.stderr, flush=True)
    print(splits.describe(), flush=True)
    splits.save(out)
    return splits


def trained_clip_ids(model_file: str | Path) -> tuple[set[str], str] | None:
    """(training clip ids, where they were read) of a model: its run folder's ``clip_splits.json``,
    else the ``train_ids`` its saved training configs name (the shipped GRID models': the GRID s1
    train list, wherever the checkout that trained them was); ``None`` when unknown."""
    folder = Path(model_file).parent
    saved = folder / FILE_NAME
    if saved.is_file():
        try:
            return set(json.loads(saved.read_text())["ids"]["train"]), str(saved)
        except (OSError, ValueError, KeyError, TypeError):
            return None
    ids, sources = set(), []
    for config in sorted(folder.glob("train_config*.json")) + [folder / "config.json"]:
        try:
            train_ids = json.loads(config.read_text()).get("train_ids")
        except (OSError, ValueError, AttributeError):
            continue
        if not train_ids or not isinstance(train_ids, str):
            continue
        if Path(train_ids).parent.name == "grid_s1" and Path(train_ids).name == "train.txt":
            ids |= set(_grid_list("train"))
            sources.append(f"{config}: the GRID s1 train list")
        elif Path(train_ids).is_file():
            ids |= set(read_id_list(train_ids, "train_ids"))
            sources.append(f"{config}: {train_ids}")
    # the configs of one model (its stages, its versions) mostly name the same list: say the last one
    return (ids, sources[-1]) if sources else None
