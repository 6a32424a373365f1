"""The ``lipkeras`` command: ``preprocess``, ``inspect`` and ``demo`` (more stages come with later issues)."""

from __future__ import annotations

import argparse
import json
import sys


def _inspect(args) -> int:
    from lipkeras import _quiet  # noqa: F401
    from lipkeras.records.inspect import format_text, summarize

    try:
        s = summarize(args.records, examples=args.examples, png=args.png, roi=args.roi)
    except FileNotFoundError as exc:
        print(f"lipkeras inspect: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # corrupt shards: say which, no traceback
        print(f"lipkeras inspect: error: {args.records}: unreadable records ({type(exc).__name__}: "
              f"{' '.join(str(exc).split())[:200]})", file=sys.stderr)
        return 2
    print(json.dumps(s) if args.json else format_text(s))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from lipkeras import __version__
    from lipkeras.preprocess.cli import add_arguments

    p = argparse.ArgumentParser(prog="lipkeras", description="Read lips and faces with TensorFlow/Keras.")
    p.add_argument("--version", action="version", version=f"lipkeras {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pre = sub.add_parser("preprocess", help="videos/images → sharded TFRecords of mouth and face crops",
                         description="Turn videos (or face images) into sharded TFRecords of mouth and face crops.")
    add_arguments(pre)

    ins = sub.add_parser("inspect", help="what is in a records folder",
                         description="Count, frame range, shapes and a few transcripts/labels of a records folder.")
    ins.add_argument("records", help="records folder, shard file or glob")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.add_argument("--png", help="write a contact sheet of the first clip's frames to this PNG")
    ins.add_argument("--roi", choices=("mouth", "face"), default="mouth", help="which crop --png draws")
    ins.add_argument("--examples", type=int, default=5, help="how many transcripts/labels to show")

    demo = sub.add_parser("demo", help="the quick start: preprocess the bundled GRID sample and read it back",
                          description="Preprocess the bundled GRID clips into tfrecords/grid_sample, read one batch, "
                                      "print shapes and a transcript, save a contact sheet of mouth frames.")
    demo.add_argument("--out", default="tfrecords/grid_sample", help="records folder (default tfrecords/grid_sample)")
    demo.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "preprocess":
        from lipkeras.preprocess.cli import run

        return run(args)
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "demo":
        from lipkeras.demo import main as demo_main

        return demo_main(args.out, args.workers)
    return 2


if __name__ == "__main__":
    sys.exit(main())
