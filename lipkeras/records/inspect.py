"""What is in a records folder: counts, frame ranges, shapes, a few transcripts/labels.

TensorFlow-free (``lipkeras.records.wire`` reads the shards), so ``lipkeras inspect`` starts fast.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lipkeras.preprocess.labels import speaker_from_name
from lipkeras.records import io as rio
from lipkeras.records import schema
from lipkeras.records.wire import RecordError, read_records


def iter_records(pattern):
    """Yield ``(shard path, serialized record)`` from the shards matching ``pattern`` (gzip auto-detected)."""
    for path in rio.list_shards(pattern):
        for raw in read_records(path):
            yield path, raw


class ClipNotFound(LookupError):
    pass


def summarize(pattern, examples: int = 5, png: str | Path | None = None, roi: str = "mouth",
              clip: str | None = None) -> dict:
    """``clip``: the clip id (or its last part, e.g. ``bbaf3s`` for ``s1/bbaf3s``) ``png`` draws;
    default the first clip."""
    count, frames, splits, labels, speakers = 0, [], Counter(), Counter(), Counter()
    unknown_speaker = 0
    shapes: dict[str, tuple] = {}
    samples, drawn = [], None
    shards = rio.list_shards(pattern)
    for path, raw in iter_records(pattern):
        try:
            rec = schema.decode_numpy(raw)
        except (RecordError, KeyError, ValueError) as exc:
            raise RecordError(f"{path}: record {count + 1}: {exc}") from None
        count += 1
        frames.append(rec["num_frames"])
        splits[rec["split"]] += 1
        # records of plain folders written before preprocess named speakers: the same rule on the id
        speaker = rec["speaker"] or speaker_from_name(rec["clip_id"])
        if speaker:
            speakers[speaker] += 1
        else:
            unknown_speaker += 1
        if rec["label"]:
            labels[rec["label"]] += 1
        for r in schema.ROIS:
            if r in rec:
                shapes[r] = {"shape": list(rec[r].shape[1:]), "dtype": str(rec[r].dtype)}
        if "audio" in rec:
            shapes["audio"] = {"sample_rate": rec["audio_rate"], "dtype": "int16"}
        if len(samples) < examples:
            samples.append({"clip_id": rec["clip_id"], "frames": rec["num_frames"],
                            "transcript": rec["transcript"], "label": rec["label"]})
        wanted = clip is None or clip in (rec["clip_id"], rec["clip_id"].rsplit("/", 1)[-1])
        if png is not None and drawn is None and wanted:
            use = roi if roi in rec else next((r for r in schema.ROIS if r in rec), None)
            if use is not None and rec["num_frames"] > 0:
                from lipkeras.visualize import save_png

                save_png(rec[use], png, columns=15 if rec["num_frames"] > 30 else 10, scale=1)
                drawn = {"clip_id": rec["clip_id"], "roi": use, "png": str(png)}
    if png is not None and clip is not None and drawn is None:
        raise ClipNotFound(f"{pattern}: no clip {clip!r} with frames in these records (--clip takes a clip id "
                           "as inspect lists them)")
    return {
        "records": str(pattern),
        "shards": len(shards),
        "count": count,
        "frames_min": min(frames) if frames else 0,
        "frames_max": max(frames) if frames else 0,
        "frames_total": int(sum(frames)),
        "rois": shapes,
        "splits": dict(sorted(splits.items())),
        "speakers": len(speakers),
        "clips_without_speaker": unknown_speaker,
        "labels": dict(sorted(labels.items())),
        "examples": samples,
        "png": drawn,
    }


def format_text(s: dict) -> str:
    lines = [
        f"{s['records']}: {s['count']} clips in {s['shards']} shards, frames {s['frames_min']}..{s['frames_max']} "
        f"({s['frames_total']} total)",
    ]
    for roi, info in s["rois"].items():
        lines.append(f"  {roi}: {info}")
    unknown = f" (+{s['clips_without_speaker']} clips of unknown speaker)" if s["clips_without_speaker"] else ""
    lines.append(f"  splits: {s['splits']}  speakers: {s['speakers']}{unknown}")
    if s["labels"]:
        lines.append(f"  labels: {s['labels']}")
    for ex in s["examples"]:
        what = ex["transcript"] or ex["label"]
        lines.append(f"  {ex['clip_id']} ({ex['frames']} frames): {what}")
    if s["png"]:
        lines.append(f"  contact sheet of {s['png']['clip_id']} ({s['png']['roi']}): {s['png']['png']}")
    return "\n".join(lines)
