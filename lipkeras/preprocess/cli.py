"""``lipkeras preprocess`` / ``python -m lipkeras.preprocess``: videos → sharded TFRecords."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from lipkeras.preprocess.config import DATASETS, PreprocessConfig

RUNNERS = ("local", "beam")
BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner")


def _csv(kind):
    def parse(text: str):
        return tuple(kind(x) for x in text.replace(" ", "").split(",") if x)

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="input folder (or one file with --dataset folder/ravdess/cremad)")
    p.add_argument("output", help="output folder for shards and manifest.json (e.g. tfrecords/grid_s1, or any "
                                  "tf.io.gfile path such as gs://bucket/grid_s1)")
    p.add_argument("--dataset", choices=DATASETS, default="folder",
                   help="layout: grid (INPUT/s*/ + INPUT/align/s*/), folder (videos + sidecar .txt/.align/labels.csv), "
                        "ravdess (labels from file names MM-VV-EE-II-SS-RR-AA), cremad (from ACTOR_SENTENCE_EMOTION_INTENSITY), "
                        "images (INPUT/<label>/*.png)")
    p.add_argument("--config", help="JSON or YAML file with PreprocessConfig fields; flags given here override it")
    p.add_argument("--workers", type=int, help="parallel processes of the local runner (default: all cores)")
    g = p.add_argument_group("runner", "with --runner beam, flags not listed here are Beam pipeline options "
                                       "(e.g. --direct_num_workers=2 --direct_running_mode=multi_processing, "
                                       "--project, --region, --temp_location)")
    g.add_argument("--runner", choices=RUNNERS, default=None,
                   help="local: a process pool on this machine (default); beam: an Apache Beam pipeline "
                        "(pip install -e '.[beam]')")
    g.add_argument("--beam-runner", choices=BEAM_RUNNERS,
                   help="the Beam runner (default DirectRunner); implies --runner beam")
    g = p.add_argument_group("frames and crops")
    g.add_argument("--fps", type=float, help="output frame rate (default 25)")
    g.add_argument("--rois", type=_csv(str), help="which crops to store: mouth,face (default both)")
    g.add_argument("--mouth-size", type=int, help="mouth ROI size in pixels (default 96)")
    g.add_argument("--mouth-side", type=float, help="mouth ROI side in inter-eye distances (default 1.3)")
    g.add_argument("--face-size", type=int, help="face crop size in pixels (default 112)")
    g.add_argument("--face-side", type=float, help="face crop side in inter-eye distances (default 2.6)")
    g.add_argument("--color", choices=("gray", "rgb"), help="stored colour (default gray)")
    g.add_argument("--max-faces", type=int, help="faces MediaPipe may find per frame; the largest is kept (default 4)")
    g.add_argument("--smooth-window", type=int, help="landmark moving-average window in frames (default 5)")
    g.add_argument("--landmark-every", type=int,
                   help="detect landmarks on every Nth frame and interpolate between while the face moves "
                        "slowly (default 2; 1: every frame)")
    g.add_argument("--landmark-max-motion", type=float,
                   help="detect every frame while landmarks move more than this many inter-eye distances "
                        "per frame (default 0.02)")
    g.add_argument("--min-detected", type=float, dest="min_detected_fraction",
                   help="skip clips where the face is found in fewer than this fraction of frames (default 0)")
    g.add_argument("--max-seconds", type=float, help="keep at most this many seconds per video (default: all)")
    g.add_argument("--aligned", action="store_true", default=None,
                   help="images are already face crops (FER2013): resize only, no detection")
    g.add_argument("--auto-orient", action=argparse.BooleanOptionalAction, default=None,
                   help="turn videos and photos whose face is sideways or upside down upright (default on)")
    g.add_argument("--blendshapes", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the Face Landmarker's 52 blendshape scores per frame (default on)")
    g.add_argument("--audio", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the audio track (16 kHz mono int16) in the records")
    g = p.add_argument_group("labels and splits")
    g.add_argument("--allow-missing-transcripts", dest="require_transcript", action="store_false", default=None,
                   help="keep videos without a transcript (default for ravdess/cremad/images)")
    g.add_argument("--split-name", help="split name when no split option is given (default 'all')")
    g.add_argument("--split-list", help="JSON {split: [ids]}, a folder of <split>.txt, or 'id,split' lines")
    g.add_argument("--val-speakers", type=_csv(str), help="speakers/actors for val, e.g. 19,20")
    g.add_argument("--test-speakers", type=_csv(str), help="speakers/actors for test, e.g. 21,22,23,24")
    g.add_argument("--split-ratio", type=_csv(float), help="train,val[,test] fractions, e.g. 0.8,0.1,0.1")
    g.add_argument("--seed", type=int, help="seed of --split-ratio (default 0)")
    g = p.add_argument_group("output")
    g.add_argument("--shard-size", type=int, help="clips per shard (default 100)")
    g.add_argument("--compression", choices=("gzip", "none"), help="shard compression (default gzip)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--json", action="store_true", help="print the manifest summary as one JSON object")


def config_from_args(args: argparse.Namespace) -> PreprocessConfig:
    fields = {}
    if args.config:
        text = Path(args.config).read_text()
        if args.config.endswith((".yaml", ".yml")):
            import yaml

            fields.update(yaml.safe_load(text) or {})
        else:
            fields.update(json.loads(text))
    names = {f for f in PreprocessConfig.__dataclass_fields__}
    for k, v in vars(args).items():
        if k in names and v is not None:
            fields[k] = v
    return PreprocessConfig(**fields)


def run(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    """Run ``args``; ``extra`` (flags argparse did not know) are Beam pipeline options with ``--runner beam``."""
    from lipkeras import _quiet  # noqa: F401
    from lipkeras.records import io as rio

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    extra = list(extra or [])
    runner = args.runner or ("beam" if args.beam_runner else "local")
    if runner == "local" and (extra or args.beam_runner):
        what = " ".join(extra) if extra else f"--beam-runner {args.beam_runner}"
        print(f"lipkeras preprocess: error: unrecognized arguments: {what} (Beam pipeline options need --runner beam)",
              file=sys.stderr)
        return 2
    try:
        cfg = config_from_args(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"lipkeras preprocess: error: {exc}", file=sys.stderr)
        return 2
    if not os.path.exists(args.input):
        print(f"lipkeras preprocess: error: {args.input}: input not found", file=sys.stderr)
        return 2
    try:
        if runner == "beam":
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)  # Beam's import warns on the root logger about GCP clients it lacks
            try:
                from lipkeras.preprocess.beam import run as run_beam
            except ImportError as exc:
                print(f"lipkeras preprocess: error: --runner beam needs Apache Beam ({exc}); "
                      "pip install -e '.[beam]'", file=sys.stderr)
                return 2
            finally:
                root.setLevel(level)
            logging.getLogger("apache_beam").setLevel(logging.WARNING)  # per-bundle and worker INFO lines
            manifest = run_beam(args.input, args.output, cfg, extra, args.beam_runner)
        else:
            from lipkeras.preprocess.pipeline import run as run_pipeline

            manifest = run_pipeline(args.input, args.output, cfg, progress=not args.quiet)
    except (FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"lipkeras preprocess: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lipkeras preprocess: interrupted; finished shards are kept, re-run to resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a failed Beam job (runner, options, workers): its first line
        if runner != "beam":
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"lipkeras preprocess: error: the Beam pipeline failed: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    if not manifest["shards"] and not manifest["skipped"] and not manifest["excluded_by_split_list"]:
        print(f"lipkeras preprocess: {args.input}: no inputs found for --dataset {cfg.dataset}", file=sys.stderr)
    summary = {k: manifest[k] for k in ("written", "frames", "seconds", "splits")}
    summary["skipped"] = len(manifest["skipped"])
    summary["output"] = str(args.output)
    summary["runner"] = runner
    if args.json:
        print(json.dumps(summary))
    else:
        fps = manifest["frames"] / manifest["seconds"] if manifest["seconds"] else 0.0
        print(f"wrote {manifest['written']} clips ({manifest['frames']} frames, {fps:.0f} frames/s) "
              f"to {args.output} in {manifest['seconds']:.1f} s; skipped {len(manifest['skipped'])}; "
              f"splits {manifest['splits']}; manifest: {rio.join(args.output, 'manifest.json')}")
    return 0 if manifest["written"] > 0 else 1


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Known flags, and the unknown ones kept for Beam (``run`` rejects them for the local runner)."""
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None, runner: str | None = None) -> int:
    """``runner="beam"``: ``python -m lipkeras.preprocess.beam``, the same flags with Beam as the default runner."""
    prog = "python -m lipkeras.preprocess" + (".beam" if runner == "beam" else "")
    p = argparse.ArgumentParser(prog=prog,
                                description="Turn videos (or face images) into sharded TFRecords of mouth and face crops.")
    add_arguments(p)
    if runner:
        p.set_defaults(runner=runner)
    return run(*parse(p, argv))
