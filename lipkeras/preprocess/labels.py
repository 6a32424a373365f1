"""Transcripts and labels: GRID ``.align``, LRS ``.txt``, sidecar text/CSV, RAVDESS names, image folders."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

from lipkeras.preprocess.errors import SkipInput

GRID_SILENCE = {"sil", "sp"}

# One canonical emotion vocabulary across datasets; synonyms map onto it.
EMOTIONS = ("angry", "calm", "disgust", "fear", "happy", "neutral", "sad", "surprise", "contempt")
EMOTION_SYNONYMS = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "calm": "calm",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "contempt": "contempt",
}

RAVDESS_FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
RAVDESS_CODES = {
    "modality": {"01": "audio-video", "02": "video-only", "03": "audio-only"},
    "vocal_channel": {"01": "speech", "02": "song"},
    "emotion": {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                "06": "fear", "07": "disgust", "08": "surprise"},
    "intensity": {"01": "normal", "02": "strong"},
    "statement": {"01": "kids are talking by the door", "02": "dogs are sitting by the door"},
    "repetition": {"01": "1", "02": "2"},
}
_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMAD_INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
CREMAD_SENTENCES = {
    "IEO": "it's eleven o'clock", "TIE": "that is exactly what happened", "IOM": "i'm on my way to the meeting",
    "IWW": "i wonder what this is about", "TAI": "the airplane is almost full", "MTI": "maybe tomorrow it will be cold",
    "IWL": "i would like a new alarm clock", "ITH": "i think i have a doctor's appointment",
    "DFA": "don't forget a jacket", "ITS": "i think i've seen this before", "TSI": "the surface is slick",
    "WSI": "we'll stop in a couple of minutes",
}
_CREMAD_RE = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
# LRS3/TED clips are "<YouTube id>_<utterance number>"; "<speaker>-<n>" is the other common naming
_SPEAKER_PREFIX_RE = re.compile(r"^(.+?)[_-]\d+$")


def speaker_from_name(clip_id: str) -> str:
    """The speaker of a clip from its id (its path under the input folder, without extension): the first sub-folder
    (``s1/bbaf3s``, LRS2's ``<video>/<utterance>``), else the file-name prefix before a trailing
    ``_<number>`` or ``-<number>`` (``95ovIJ3dsNk_00009``), else '' (unknown)."""
    parts = [p for p in clip_id.replace("\\", "/").split("/") if p]
    if len(parts) > 1:
        return parts[0]
    m = _SPEAKER_PREFIX_RE.match(parts[0]) if parts else None
    return m.group(1) if m else ""


def normalize_text(text: str) -> str:
    """Lower case, accents folded, whitespace collapsed (characters are filtered by the vocabulary)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())


def canonical_emotion(name: str) -> str:
    key = name.strip().lower()
    if key not in EMOTION_SYNONYMS:
        raise SkipInput(f"unknown emotion label {name!r} (known: {', '.join(EMOTIONS)} and synonyms)")
    return EMOTION_SYNONYMS[key]


def read_grid_align(path: Path) -> str:
    """Words of a GRID alignment (``start end word`` lines), silences dropped."""
    words = []
    for line in _read_text(path).splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].lower() not in GRID_SILENCE:
            words.append(parts[2])
        elif len(parts) not in (0, 3):
            raise SkipInput(f"malformed alignment {path.name}: {line.strip()!r}")
    if not words:
        raise SkipInput(f"empty transcript in {path.name}")
    return normalize_text(" ".join(words))


def read_transcript_txt(path: Path) -> str:
    """LRS-style ``Text:`` line when present, otherwise the whole file as plain text."""
    text = _read_text(path)
    for line in text.splitlines():
        if line.strip().lower().startswith("text:"):
            out = normalize_text(line.split(":", 1)[1])
            break
    else:
        out = normalize_text(text)
    if not out:
        raise SkipInput(f"empty transcript in {path.name}")
    return out


def read_label_csv(path: Path) -> dict[str, str]:
    """``filename,label`` (or ``path,text``) sidecar tables: file name → text."""
    table = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return table
    start = 1 if rows[0] and rows[0][0].strip().lower() in ("filename", "file", "path", "video", "name") else 0
    for row in rows[start:]:
        if len(row) >= 2 and row[0].strip():
            table[Path(row[0].strip()).name] = row[1]
    return table


def parse_ravdess(path: Path) -> dict[str, str]:
    """All seven fields of a RAVDESS name ``MM-VV-EE-II-SS-RR-AA.ext``, decoded."""
    m = _RAVDESS_RE.match(path.stem)
    if not m:
        raise SkipInput(f"not a RAVDESS file name (want MM-VV-EE-II-SS-RR-AA): {path.name}")
    raw = dict(zip(RAVDESS_FIELDS, m.groups()))
    out = {}
    for field, code in raw.items():
        if field == "actor":
            actor = int(code)
            if not 1 <= actor <= 24:
                raise SkipInput(f"RAVDESS actor {code} out of range in {path.name}")
            out["actor"] = f"{actor:02d}"
            out["sex"] = "male" if actor % 2 else "female"
            continue
        table = RAVDESS_CODES[field]
        if code not in table:
            raise SkipInput(f"RAVDESS {field} code {code} unknown in {path.name}")
        out[field] = table[code]
    return out


def parse_cremad(path: Path) -> dict[str, str]:
    """The four fields of a CREMA-D name ``ACTOR_SENTENCE_EMOTION_INTENSITY.ext`` (``1001_DFA_ANG_XX``),
    decoded: actor (1001-1091), the sentence's text, the canonical emotion, the intensity."""
    m = _CREMAD_RE.match(path.stem)
    if not m:
        raise SkipInput(f"not a CREMA-D file name (want ACTOR_SENTENCE_EMOTION_INTENSITY, e.g. 1001_DFA_ANG_XX): "
                        f"{path.name}")
    actor, sentence, emotion, intensity = m.groups()
    if not 1001 <= int(actor) <= 1091:
        raise SkipInput(f"CREMA-D actor {actor} out of range (1001-1091) in {path.name}")
    for code, table, what in ((sentence, CREMAD_SENTENCES, "sentence"), (emotion, CREMAD_EMOTIONS, "emotion"),
                              (intensity, CREMAD_INTENSITIES, "intensity")):
        if code not in table:
            raise SkipInput(f"CREMA-D {what} code {code} unknown in {path.name} (known: {', '.join(table)})")
    return {"actor": actor, "sentence": CREMAD_SENTENCES[sentence], "sentence_code": sentence,
            "emotion": CREMAD_EMOTIONS[emotion], "intensity": CREMAD_INTENSITIES[intensity]}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except PermissionError:
        raise SkipInput(f"transcript unreadable: permission denied ({path.name})") from None
    except OSError as exc:
        raise SkipInput(f"transcript unreadable: {exc.strerror or exc} ({path.name})") from None
