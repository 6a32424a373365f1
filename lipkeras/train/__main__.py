"""``python -m lipkeras.train --stage lipnet --data tfrecords/grid_s1 --out runs/NAME [--config FILE]``."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from lipkeras.train.config import LipReadingConfig, load_fields


def _bool(text: str) -> bool:
    return str(text).lower() in ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lipkeras.train", description="Train lipkeras models.")
    p.add_argument("--stage", required=True, choices=["lipnet"], help="what to train")
    p.add_argument("--config", help="YAML or JSON file of config fields; flags override it")
    for f in dataclasses.fields(LipReadingConfig):
        if f.name == "stage":
            continue
        kind = {int: int, float: float, bool: _bool}.get(type(f.default), str)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=None,
                       help=f"default: {f.default}")
    return p


def main(argv=None) -> int:
    from lipkeras import _quiet

    _quiet.import_tensorflow()
    args = parser().parse_args(argv)
    fields = load_fields(args.config) if args.config else {}
    fields.update({k: v for k, v in vars(args).items() if v is not None and k != "config"})
    for k in ("train_ids", "val_ids", "test_ids", "train_split", "val_split", "init_from"):
        if fields.get(k) in ("", "none", "None"):
            fields[k] = None
    try:
        cfg = LipReadingConfig(**fields)
    except (TypeError, ValueError) as exc:
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        return 2
    from lipkeras.train.lipreading import train

    try:
        train(cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"lipkeras train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
