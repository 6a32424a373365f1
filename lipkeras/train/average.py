"""Checkpoint averaging (as auto_avsr does): the element-wise mean of several checkpoints' weights.

    python -m lipkeras.train.average --run runs/NAME --last 5 --out runs/NAME/averaged.keras
    python -m lipkeras.train.average a.keras b.keras c.keras --out averaged.keras

Runs trained with ``--keep-checkpoints K`` keep their last K epochs under ``checkpoints/``.
Every weight is averaged, BatchNorm statistics included; integer weights (step counters) are
taken from the last checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

from lipkeras.records.io import save_keras_atomic


class KeepCheckpoints(keras.callbacks.Callback):
    """Save ``checkpoints/epochNNN.keras`` after every epoch and keep only the newest ``keep``."""

    def __init__(self, folder: str | Path, keep: int):
        super().__init__()
        self.folder, self.keep = Path(folder), int(keep)

    def on_epoch_end(self, epoch, logs=None):
        save_keras_atomic(self.model, self.folder / f"epoch{epoch + 1:03d}.keras")
        for old in sorted(self.folder.glob("epoch*.keras"))[: -self.keep]:
            old.unlink()


def average_checkpoints(paths: list[str | Path]):
    """A model (the last checkpoint's architecture) holding the mean of all the checkpoints' weights."""
    import lipkeras.layers  # noqa: F401  (registers the classes)
    import lipkeras.models  # noqa: F401

    if not paths:
        raise ValueError("no checkpoints to average")
    models = [keras.saving.load_model(p, compile=False) for p in paths]
    shapes = [[w.shape for w in m.get_weights()] for m in models]
    if any(s != shapes[-1] for s in shapes):
        raise ValueError("checkpoints have different architectures; average only checkpoints of one run")
    averaged = []
    for ws in zip(*(m.get_weights() for m in models)):
        averaged.append(np.mean(ws, axis=0).astype(ws[-1].dtype) if np.issubdtype(ws[-1].dtype, np.floating)
                        else ws[-1])
    model = models[-1]
    model.set_weights(averaged)
    return model


def main(argv=None) -> int:
    from lipkeras import _quiet

    p = argparse.ArgumentParser(prog="python -m lipkeras.train.average", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", help=".keras files to average")
    p.add_argument("--run", help="a run folder trained with --keep-checkpoints")
    p.add_argument("--last", type=int, default=5, help="with --run: how many of the newest epochs")
    p.add_argument("--out", required=True, help="the averaged .keras file")
    args = p.parse_args(argv)
    _quiet.import_tensorflow()
    paths = list(args.checkpoints)
    if args.run:
        paths += [str(f) for f in sorted((Path(args.run) / "checkpoints").glob("epoch*.keras"))[-args.last:]]
    try:
        model = average_checkpoints(paths)
    except (OSError, ValueError) as exc:
        print(f"lipkeras average: error: {exc}", file=sys.stderr)
        return 2
    save_keras_atomic(model, args.out)
    print(f"averaged {len(paths)} checkpoints into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
