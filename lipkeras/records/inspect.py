"""What is in a records folder: counts, frame ranges, shapes, a few transcripts/labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lipkeras.records import io as rio
from lipkeras.records import schema


def iter_records(pattern):
    """Yield raw serialized records from the shards matching ``pattern`` (compression auto-detected)."""
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()
    for path in rio.list_shards(pattern):
        for raw in tf.data.TFRecordDataset(path, compression_type=rio.compression_of(path)):
            yield path, raw.numpy()


def summarize(pattern, examples: int = 5, png: str | Path | None = None, roi: str = "mouth") -> dict:
    count, frames, splits, labels, speakers = 0, [], Counter(), Counter(), Counter()
    shapes: dict[str, tuple] = {}
    samples, drawn = [], None
    shards = rio.list_shards(pattern)
    for _, raw in iter_records(pattern):
        rec = schema.decode_numpy(raw)
        count += 1
        frames.append(rec["num_frames"])
        splits[rec["split"]] += 1
        speakers[rec["speaker"]] += 1
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
        if png is not None and drawn is None:
            use = roi if roi in rec else next((r for r in schema.ROIS if r in rec), None)
            if use is not None and rec["num_frames"] > 0:
                from lipkeras.visualize import save_png

                save_png(rec[use], png, columns=15 if rec["num_frames"] > 30 else 10, scale=1)
                drawn = {"clip_id": rec["clip_id"], "roi": use, "png": str(png)}
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
    lines.append(f"  splits: {s['splits']}  speakers: {s['speakers']}")
    if s["labels"]:
        lines.append(f"  labels: {s['labels']}")
    for ex in s["examples"]:
        what = ex["transcript"] or ex["label"]
        lines.append(f"  {ex['clip_id']} ({ex['frames']} frames): {what}")
    if s["png"]:
        lines.append(f"  contact sheet of {s['png']['clip_id']} ({s['png']['roi']}): {s['png']['png']}")
    return "\n".join(lines)
