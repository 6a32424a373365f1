"""Training callbacks: validation WER/CER with decoded examples, and a wall-time budget."""

from __future__ import annotations

import time

import keras
import numpy as np

from lipkeras.decode import decode
from lipkeras.metrics import text_metrics


def ctc_recognizer(beam_width: int = 0):
    """``recognize(model, frames, lengths) → texts`` for CTC models (greedy, or beam if ``beam_width`` > 1)."""
    def recognize(model, frames, lengths):
        # a call, not predict_on_batch: under MirroredStrategy that returned one replica's rows only
        logits = model({"frames": frames, "frame_lengths": lengths}, training=False)
        return decode(np.asarray(logits), np.asarray(lengths), beam_width)
    return recognize


def transcribe_dataset(model, dataset, beam_width: int = 0, recognize=None):
    """(references, hypotheses, clip_ids) for every batch of a mouth dataset.

    ``recognize(model, frames, lengths) → texts`` decodes a batch (default: CTC, ``beam_width``).
    """
    recognize = recognize or ctc_recognizer(beam_width)
    refs, hyps, ids = [], [], []
    for batch in dataset:  # tf.data batches (tensors, bytes) or NumPy ones (arrays, str): the portable stages'
        hyps += recognize(model, np.asarray(batch["frames"]), np.asarray(batch["frame_lengths"]))
        refs += [_text(t) for t in np.asarray(batch["transcript"])]
        ids += [_text(t) for t in np.asarray(batch["clip_id"])]
    return refs, hyps, ids


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class DecodeMetrics(keras.callbacks.Callback):
    """Adds ``val_wer``, ``val_cer``, ``val_sentence_accuracy`` to the epoch logs (so checkpoints and
    the CSV see them) and prints a few decoded validation clips, as the seeds' ProduceExample."""

    def __init__(self, dataset, examples: int = 3, beam_width: int = 0, recognize=None):
        super().__init__()
        self.dataset, self.examples, self.beam_width, self.recognize = dataset, examples, beam_width, recognize

    def on_epoch_end(self, epoch, logs=None):
        refs, hyps, _ = transcribe_dataset(self.model, self.dataset, self.beam_width, self.recognize)
        m = text_metrics(refs, hyps)
        if logs is not None:
            logs["val_wer"], logs["val_cer"] = m["wer"], m["cer"]
            logs["val_sentence_accuracy"] = m["sentence_accuracy"]
        print(f"\nepoch {epoch + 1}: val WER {m['wer']:.4f}  CER {m['cer']:.4f}  "
              f"sentences {m['sentence_accuracy']:.3f}", flush=True)
        for r, h in list(zip(refs, hyps))[: self.examples]:
            print(f"  ref: {r}\n  hyp: {h}", flush=True)


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``minutes`` of wall time have passed (checked after each batch)."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60.0
        self.start = None
        self.stopped_at = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds and time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True
            self.stopped_at = time.perf_counter() - self.start


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` (training wall time of the epoch, before validation) to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = round(getattr(self, "_last", time.perf_counter()) - self._t, 2)
