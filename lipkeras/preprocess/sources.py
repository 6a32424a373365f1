"""Find the inputs of a dataset layout and what is known about each (transcript, label, speaker)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from lipkeras.preprocess import labels as lab
from lipkeras.preprocess.errors import SkipInput
from lipkeras.preprocess.video import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, check_decodable

MISSING_TRANSCRIPT = "missing transcript"

# formats OpenCV reads (inference, preprocess); image-folder training reads them with
# tf.io.decode_image, except TIFF (JAFFE's format), which TF cannot decode: OpenCV reads it there too
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
TIFF_EXTENSIONS = (".tif", ".tiff")
SPLIT_DIRS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
              "dev": "val", "publictest": "val", "test": "test", "privatetest": "test"}


@dataclasses.dataclass
class Item:
    path: str
    clip_id: str
    kind: str = "video"  # video | image | audio
    speaker: str = ""
    transcript: str | None = None
    label: str | None = None
    attributes: dict = dataclasses.field(default_factory=dict)
    split: str | None = None


@dataclasses.dataclass
class Skipped:
    path: str
    reason: str

    def to_dict(self) -> dict:
        return {"path": self.path, "reason": self.reason}


def media_files(root: str | Path, exts: tuple[str, ...]) -> list[Path]:
    """Files under ``root`` (recursively, sorted) with one of ``exts``; hidden files (macOS "._x.mp4"
    forks, editor temp files) and folders named like media are not inputs."""
    return sorted(p for p in Path(root).rglob("*")
                  if p.suffix.lower() in exts and not p.name.startswith(".") and p.is_file())


def _rel_id(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def discover(root: str | Path, dataset: str, require_transcript: bool = True, audio: bool = False):
    """Items to process and inputs already known to be unusable (e.g. a missing transcript)."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: input folder not found")
    fn = {"grid": _grid, "folder": _folder, "ravdess": _ravdess, "cremad": _cremad, "images": _images}[dataset]
    if root.is_file():
        if dataset not in ("folder", "ravdess", "cremad"):
            raise ValueError(f"{root}: --dataset {dataset} expects a folder")
        return fn(root.parent, require_transcript, audio, only=root)
    return fn(root, require_transcript, audio)


def _grid(root: Path, require_transcript: bool, audio: bool, only=None):
    items, skipped = [], []
    speakers = sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name))
    if not speakers:
        raise FileNotFoundError(f"{root}: no speaker folders s1, s2, ... (GRID layout expected)")
    for spk_dir in speakers:
        spk = spk_dir.name
        align_dirs = [root / "align" / spk, root / "alignments" / spk, spk_dir / "align"]
        for video in media_files(spk_dir, VIDEO_EXTENSIONS):
            align = next((d / f"{video.stem}.align" for d in align_dirs + [video.parent] if (d / f"{video.stem}.align").exists()), None)
            item = Item(str(video), f"{spk}/{video.stem}", speaker=spk)
            try:
                if align is None:
                    check_decodable(video)  # a broken video is reported as broken, not as untranscribed
                    raise SkipInput(f"{MISSING_TRANSCRIPT}: no {video.stem}.align under align/{spk} or alignments/{spk}")
                item.transcript = lab.read_grid_align(align)
            except SkipInput as exc:
                skipped.append(Skipped(str(video), str(exc)))
                continue
            items.append(item)
    return items, skipped


def _sidecar_transcript(video: Path, root: Path, tables: dict) -> str | None:
    for ext in (".txt", ".align"):
        p = video.with_suffix(ext)
        if p.exists():
            return lab.read_grid_align(p) if ext == ".align" else lab.read_transcript_txt(p)
    # A labels.csv / transcripts.csv in this folder or an ancestor inside root.
    d = video.parent
    while True:
        for name in ("labels.csv", "transcripts.csv"):
            csv_path = d / name
            if csv_path.exists():
                table = tables.setdefault(csv_path, lab.read_label_csv(csv_path))
                if video.name in table:
                    text = lab.normalize_text(table[video.name])
                    if not text:
                        raise SkipInput(f"empty transcript for {video.name} in {csv_path.name}")
                    return text
        if d == root or root not in d.parents:
            return None
        d = d.parent


def _folder(root: Path, require_transcript: bool, audio: bool, only=None):
    items, skipped, tables = [], [], {}
    videos = [only] if only is not None else media_files(root, VIDEO_EXTENSIONS)
    for video in videos:
        clip_id = _rel_id(video, root)
        item = Item(str(video), clip_id, speaker=lab.speaker_from_name(clip_id))
        try:
            item.transcript = _sidecar_transcript(video, root, tables)
            if item.transcript is None and require_transcript:
                check_decodable(video)  # a broken video is reported as broken, not as untranscribed
                raise SkipInput(f"{MISSING_TRANSCRIPT}: no {video.stem}.txt, {video.stem}.align or labels.csv entry")
        except SkipInput as exc:
            skipped.append(Skipped(str(video), str(exc)))
            continue
        items.append(item)
    if only is None:  # said once per file, not silently left out: audio needs --dataset ravdess --audio
        skipped += [Skipped(str(a), "audio-only file: --dataset folder reads videos")
                    for a in media_files(root, AUDIO_EXTENSIONS)]
    return items, skipped


def _named_emotion_clips(root: Path, audio: bool, only, parse, transcript_field: str):
    """Emotion corpora whose file names carry the label and the actor (RAVDESS, CREMA-D): videos, and
    audio-only files with ``--audio``."""
    items, skipped = [], []
    files = [only] if only is not None else media_files(root, VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
    for path in files:
        try:
            attrs = parse(path)
        except SkipInput as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        kind = "audio" if path.suffix.lower() in AUDIO_EXTENSIONS else "video"
        if kind == "audio" and not audio:
            skipped.append(Skipped(str(path), "audio-only file: pass --audio to keep audio-only records"))
            continue
        items.append(Item(str(path), _rel_id(path, root), kind=kind, speaker=attrs["actor"],
                          transcript=attrs[transcript_field], label=attrs["emotion"], attributes=attrs))
    return items, skipped


def _ravdess(root: Path, require_transcript: bool, audio: bool, only=None):
    return _named_emotion_clips(root, audio, only, lab.parse_ravdess, "statement")


def _cremad(root: Path, require_transcript: bool, audio: bool, only=None):
    return _named_emotion_clips(root, audio, only, lab.parse_cremad, "sentence")


def _images(root: Path, require_transcript: bool, audio: bool, only=None):
    items, skipped = [], []
    for path in media_files(root, IMAGE_EXTENSIONS):
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            skipped.append(Skipped(str(path), "image not inside a <label>/ folder"))
            continue
        split = SPLIT_DIRS.get(rel.parts[0].lower()) if len(rel.parts) >= 3 else None
        try:
            label = lab.canonical_emotion(rel.parts[-2])
        except SkipInput as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        items.append(Item(str(path), _rel_id(path, root), kind="image", label=label,
                          attributes={"folder_label": rel.parts[-2]}, split=split))
    return items, skipped
