"""The quick-start job: bundled GRID sample → TFRecords → one batch → shapes, a transcript, a PNG."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path


def sample_records(out: str | Path = "tfrecords/grid_sample", clips: int | None = None, val_clips: int = 0,
                   rois: tuple[str, ...] = ("mouth",), workers: int | None = None) -> Path:
    """The bundled GRID sample (its first ``clips`` videos by name; all when ``None``) as records in ``out``,
    the last ``val_clips`` of them in split ``val`` and the others in ``train``. Quick when ``out``
    already holds them: preprocessing resumes, so finished shards of the same settings are kept."""
    import json

    from lipkeras.paths import GRID_SAMPLE
    from lipkeras.preprocess import PreprocessConfig, run

    ids = [f"s1/{v.stem}" for v in sorted((GRID_SAMPLE / "s1").glob("*.mp4"))][:clips]
    if not 0 <= val_clips < len(ids):
        raise ValueError(f"val_clips must leave at least one of the {len(ids)} clips for training, got {val_clips}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split_list = out / "split_list.json"  # a split list also picks the clips: the others are left out
    split_list.write_text(json.dumps({"train": ids[:len(ids) - val_clips], "val": ids[len(ids) - val_clips:]}))
    cfg = PreprocessConfig(dataset="grid", rois=tuple(rois), split_list=str(split_list), shard_size=5,
                           workers=workers or 1)
    manifest = run(GRID_SAMPLE, out, cfg, progress=False)
    if manifest["written"] != len(ids):
        raise RuntimeError(f"{out}: wrote {manifest['written']} of {len(ids)} sample clips: {manifest['skipped']}")
    return out


def main(out: str = "tfrecords/grid_sample", workers: int | None = None) -> int:
    from lipkeras import _quiet  # noqa: F401
    from lipkeras.paths import GRID_SAMPLE
    from lipkeras.preprocess import PreprocessConfig
    from lipkeras.preprocess.pipeline import run

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    cfg = PreprocessConfig(dataset="grid", audio=True, shard_size=5, workers=workers or os.cpu_count() or 1)
    print(f"1. preprocess {GRID_SAMPLE} → {out}")
    m = run(GRID_SAMPLE, out, cfg)
    print(f"   wrote {m['written']} clips, {m['frames']} frames in {m['seconds']:.1f} s "
          f"({m['frames'] / max(m['seconds'], 1e-9):.0f} frames/s), skipped {len(m['skipped'])}")
    if not m["written"]:
        print("nothing written", file=sys.stderr)
        return 1

    from lipkeras.records import DEFAULT_VOCAB, mouth_dataset
    from lipkeras.visualize import save_gif, save_png

    print("2. read one training batch with lipkeras.records.mouth_dataset")
    ds = mouth_dataset(out, batch_size=4, training=True, crop_size=88, seed=0)
    batch = next(iter(ds))
    for k, v in batch.items():
        print(f"   {k:14s} {str(v.dtype.name):8s} {tuple(v.shape)}")
    print(f"   transcript[0]  {batch['transcript'][0].numpy().decode()!r}")
    print(f"   labels[0]      {batch['labels'][0, :batch['label_lengths'][0]].numpy().tolist()}"
          f" → {DEFAULT_VOCAB.decode(batch['labels'][0].numpy())!r}")

    print("3. contact sheet of the first clip's mouth frames (as stored, uint8)")
    raw = next(iter(mouth_dataset(out, batch_size=1, normalization=None)))
    frames = (raw["frames"][0, : raw["frame_lengths"][0]].numpy() * 255).round().astype("uint8")
    png = save_png(frames, Path(out) / "mouth_contact_sheet.png", columns=15)
    gif = save_gif(frames, Path(out) / "mouth.gif")
    print(f"   {raw['clip_id'][0].numpy().decode()}: {png} and {gif}")

    from lipkeras.lipreader import LipReader, resolve

    try:
        resolve(None)
    except FileNotFoundError:
        return 0
    from lipkeras.preprocess.labels import read_grid_align

    videos = sorted((GRID_SAMPLE / "s1").glob("*.mp4"))[:2]
    print("4. transcribe two bundled videos with the shipped grid_lipreader (raw video → text)")
    reader = LipReader()
    for video in videos:
        r = reader.transcribe(video)
        ref = read_grid_align(GRID_SAMPLE / "align" / "s1" / f"{video.stem}.align")
        print(f"   {video.name}: {r['text']!r} (truth {ref!r}; {r['seconds']:.2f} s for {r['video_seconds']:.1f} s "
              f"of video)")
    try:
        resolve("grid_crossmodal")
    except FileNotFoundError:
        return 0
    print("5. the same with the cross-modal reader (attention beam search + character LM fusion)")
    reader = LipReader("grid_crossmodal")
    for video in videos:
        r = reader.transcribe(video)
        print(f"   {video.name}: {r['text']!r} (score {r['score']:.3f}, LM score {r['lm_score']:.2f}; "
              f"{r['seconds']:.2f} s)")
    try:
        resolve("fer_emotion")
    except FileNotFoundError:
        return 0
    from lipkeras.emotion import EmotionReader

    print("6. the speaker's facial emotion with the shipped fer_emotion (mean of the face frames' probabilities)")
    emotion = EmotionReader()
    for video in videos:
        r = emotion.classify(video)
        top = sorted(r["probs"].items(), key=lambda kv: -kv[1])[:3]
        print(f"   {video.name}: {r['label']} ({', '.join(f'{k} {p:.2f}' for k, p in top)}; {r['frames']} frames)")
    return 0
