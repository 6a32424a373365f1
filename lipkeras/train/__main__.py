"""``python -m lipkeras.train --stage {lipnet,decoder,visual,integrate} [--config FILE] [--FIELD VALUE ...]``.

Each stage's fields are the dataclass in ``lipkeras.train.config``; a YAML/JSON file gives them
too and flags override it. The pipeline of the cross-modal reader:

    --stage decoder   → runs/grid_lm         (character LM on transcripts/text)
    --stage visual    --decoder runs/grid_lm → runs/grid_visual
    --stage integrate --visual runs/grid_visual --decoder runs/grid_lm → runs/grid_crossmodal
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import shutil
import sys
from pathlib import Path

from lipkeras.train.config import STAGE_CONFIGS, ClipSplitConfig, field_help, load_fields

TRAINERS = {"lipnet": "lipkeras.train.lipreading", "decoder": "lipkeras.train.language_model",
            "visual": "lipkeras.train.visual", "integrate": "lipkeras.train.integrate",
            "emotion": "lipkeras.train.emotion", "audio-emotion": "lipkeras.train.audio_emotion",
            "av-emotion": "lipkeras.train.av_emotion"}
BACKENDS = ("tensorflow", "jax", "torch")
OPTIONAL_PATHS = ("train_ids", "val_ids", "test_ids", "train_split", "val_split", "init_from", "val_text", "val_data",
                  "from_tuner")
CLIP_SPLIT_RULES = ("Which clips train, validate and test, the first that applies: --train-ids/--val-ids/--test-ids "
                    "(or --train-split/--val-split); --split-ratio/--val-speakers/--test-speakers; the records' own "
                    "train/val/test split field; the GRID s1 lists (records of GRID speaker 1 only). The choice is "
                    "saved as clip_splits.json in the run folder.")


def _bool(text: str) -> bool:
    return str(text).lower() in ("1", "true", "yes", "on")


def _default_text(value) -> str:
    if value is None or isinstance(value, bool):  # not a dict lookup: 1 == True, 0 == False
        return str(value).lower()
    return "empty" if value == "" else str(value)


def _metavar(f: dataclasses.Field) -> str:
    if isinstance(f.default, bool):
        return "true|false"
    return {int: "N", float: "X"}.get(type(f.default), "TEXT")


def parser(stage: str | None = None, prog: str = "python -m lipkeras.train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Train lipkeras models "
                                "(give --stage with --help to see its fields).")
    p.add_argument("--stage", required=True, choices=list(STAGE_CONFIGS), help="what to train")
    p.add_argument("--config", help="YAML or JSON file of config fields; flags override it")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="Keras backend to train under (default: $KERAS_BACKEND, else tensorflow); jax and torch "
                        "train --stage emotion/lipnet from arrays (--data X.npz from `lipkeras records export-npz`)")
    if stage in STAGE_CONFIGS:
        config = STAGE_CONFIGS[stage]
        if issubclass(config, ClipSplitConfig):
            p.epilog = CLIP_SPLIT_RULES
        for f in dataclasses.fields(config):
            if f.name == "stage":
                continue
            kind = {int: int, float: float, bool: _bool}.get(type(f.default), str)
            default = _default_text(f.default)
            text = f"{field_help(config, f.name)} (default: {default})".replace("%", "%%")  # argparse formats help
            p.add_argument(f"--{f.name.replace('_', '-')}", *f.metadata.get("aliases", ()), dest=f.name, type=kind,
                           default=None, metavar=_metavar(f), help=text)
    return p


# what a run writes before its first epoch: a folder holding only these is removed when the run fails
SET_UP_FILES = {"config.json", "clip_splits.json", "train_ids.txt", "val_ids.txt", "test_ids.txt"}


def main(argv=None, prog: str = "python -m lipkeras.train") -> int:
    from lipkeras import _quiet

    argv = sys.argv[1:] if argv is None else list(argv)
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--stage")
    first, _ = peek.parse_known_args(argv)
    args = parser(first.stage, prog).parse_args(argv)
    backend = args.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        print(f"lipkeras train: error: Keras is already running under {sys.modules['keras'].backend.backend()}; "
              f"set KERAS_BACKEND={backend} before Python starts", file=sys.stderr)
        return 2
    os.environ["KERAS_BACKEND"] = backend  # before anything imports Keras
    fields = load_fields(args.config) if args.config else {}
    fields.update({k: v for k, v in vars(args).items() if v is not None and k not in ("config", "backend")})
    for k in OPTIONAL_PATHS:
        if fields.get(k) in ("", "none", "None"):
            fields[k] = None
    try:
        cfg = STAGE_CONFIGS[args.stage](**fields)
    except (TypeError, ValueError) as exc:
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        return 2
    from lipkeras.train.portable import is_arrays

    if is_arrays(getattr(cfg, "data", "")):
        if getattr(cfg, "strategy", "default") != "default":
            print(f"lipkeras train: error: --strategy {cfg.strategy} distributes the tf.data stages; arrays "
                  f"({cfg.data}) train on one device with --strategy default", file=sys.stderr)
            return 2
        trainer = importlib.import_module("lipkeras.train.portable")
    elif backend != "tensorflow":
        print(f"lipkeras train: error: --backend {backend} trains from arrays: export the data once with "
              f"`lipkeras records export-npz DATA OUT.npz` and give --data OUT.npz", file=sys.stderr)
        return 2
    else:
        _quiet.import_tensorflow()
        from lipkeras.train.strategy import get_strategy

        try:  # first, before any TF op: MultiWorkerMirroredStrategy cannot be created after one
            get_strategy(cfg.strategy)
        except (ValueError, RuntimeError) as exc:  # e.g. a TF_CONFIG that names no cluster
            print(f"lipkeras train: error: --strategy {cfg.strategy}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        trainer = importlib.import_module(TRAINERS[args.stage])
    out = Path(cfg.out) if getattr(cfg, "out", None) else None
    new_run = out is not None and not out.exists()
    try:
        with _quiet.native_stderr_filtered():  # TF's oneDNN notice (an "E0000" line) mid-run is noise
            trainer.train(cfg)
    except (FileNotFoundError, ValueError) as exc:  # ArraysError and SplitError are ValueErrors
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        if new_run and out.is_dir() and {p.name for p in out.iterdir()} <= SET_UP_FILES:
            shutil.rmtree(out, ignore_errors=True)  # a run that failed before training leaves no folder behind
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
