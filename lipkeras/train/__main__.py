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
import sys

from lipkeras.train.config import STAGE_CONFIGS, load_fields

TRAINERS = {"lipnet": "lipkeras.train.lipreading", "decoder": "lipkeras.train.language_model",
            "visual": "lipkeras.train.visual", "integrate": "lipkeras.train.integrate",
            "emotion": "lipkeras.train.emotion"}
OPTIONAL_PATHS = ("train_ids", "val_ids", "test_ids", "train_split", "val_split", "init_from", "val_text", "val_data",
                  "from_tuner")


def _bool(text: str) -> bool:
    return str(text).lower() in ("1", "true", "yes", "on")


def parser(stage: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lipkeras.train", description="Train lipkeras models "
                                "(give --stage with --help to see its fields).")
    p.add_argument("--stage", required=True, choices=list(STAGE_CONFIGS), help="what to train")
    p.add_argument("--config", help="YAML or JSON file of config fields; flags override it")
    if stage in STAGE_CONFIGS:
        for f in dataclasses.fields(STAGE_CONFIGS[stage]):
            if f.name == "stage":
                continue
            kind = {int: int, float: float, bool: _bool}.get(type(f.default), str)
            p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                           help=f"default: {f.default}")
    return p


def main(argv=None) -> int:
    from lipkeras import _quiet

    argv = sys.argv[1:] if argv is None else list(argv)
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--stage")
    first, _ = peek.parse_known_args(argv)
    args = parser(first.stage).parse_args(argv)
    _quiet.import_tensorflow()
    fields = load_fields(args.config) if args.config else {}
    fields.update({k: v for k, v in vars(args).items() if v is not None and k != "config"})
    for k in OPTIONAL_PATHS:
        if fields.get(k) in ("", "none", "None"):
            fields[k] = None
    try:
        cfg = STAGE_CONFIGS[args.stage](**fields)
    except (TypeError, ValueError) as exc:
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        return 2
    trainer = importlib.import_module(TRAINERS[args.stage])
    try:
        trainer.train(cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
