"""``lipkeras evaluate``: WER, CER and sentence accuracy of a lip reader on mouth records."""

from __future__ import annotations

import csv
import os
from pathlib import Path


def evaluate(reader, data: str, ids=None, split: str | None = None, beam_width: int = 0, batch_size: int = 16,
             lm_weight: float | None = None, ctc_weight: float | None = None):
    """(metrics, rows) where rows are per-clip dicts sorted by clip id.

    ``beam_width`` 0 is the model's default decoding. CTC models: 1 greedy, above 1 CTC beam
    search (fused with the model's character LM if it ships one and ``lm_weight`` > 0);
    cross-modal models: attention beam search with the default (or the given) LM and CTC weights.
    """
    import time

    from lipkeras.metrics import clip_counts, text_metrics
    from lipkeras.records import mouth_dataset
    from lipkeras.train.callbacks import transcribe_dataset

    ds = mouth_dataset(data, batch_size=batch_size, normalization=None, crop_size=reader.meta["crop_size"],
                       clip_ids=ids, split=split)
    t0 = time.perf_counter()
    refs, hyps, clip_ids = transcribe_dataset(reader.model, ds, recognize=reader.text_recognizer(beam_width, lm_weight,
                                                                                                ctc_weight))
    seconds = time.perf_counter() - t0
    if not refs:
        raise ValueError(f"{data}: no clips to evaluate (check --ids / --split)")
    counts = clip_counts(refs, hyps)  # one alignment per clip, for the totals and the per-clip table
    metrics = text_metrics(refs, hyps, counts)
    import dataclasses

    decoding = dataclasses.asdict(reader.decoding_config(beam_width, lm_weight, ctc_weight))
    metrics.update(model=str(reader.path), data=str(data), **decoding,
                   seconds=round(seconds, 2), seconds_per_clip=round(seconds / len(refs), 4))
    rows = []
    for cid, r, h, (we, wn, ce, cn) in sorted(zip(clip_ids, refs, hyps, counts.tolist()), key=lambda row: row[:3]):
        rows.append({"clip_id": cid, "reference": r, "hypothesis": h, "wer": round(we / max(wn, 1), 4),
                     "cer": round(ce / max(cn, 1), 4)})
    return metrics, rows


def write_csv(rows, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["clip_id", "reference", "hypothesis", "wer", "cer"])
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
    return path
