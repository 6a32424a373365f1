"""Preprocessing as an Apache Beam pipeline: the local run's plan, clips, shards and manifest, on any runner.

``lipkeras preprocess IN OUT --runner beam [--beam-runner DataflowRunner] [beam options]`` or
``python -m lipkeras.preprocess.beam IN OUT [...]``::

    plan (driver: discover, splits, shard plan, resume state)
      → Create((shard, position, item)) → Reshuffle        fan the clips out over the workers
      → ProcessClip                                        process() per clip; MediaPipe checked in setup
      → GroupByKey(shard) → WriteShard                     one shard file whole: temp + rename
      → ToList → WriteManifest                             manifest.json, as the local run writes it

A clip belongs to one planned shard and a shard file is written in one step from all of its clips
(sorted by position), so a retried bundle rewrites the same bytes under the same name: nothing is
ever written twice. Bad inputs are skipped with their reason (in the manifest) and counted in the
``lipkeras.preprocess`` Beam counters; they never fail the pipeline.

Inputs are read by the workers at the paths discovery found: on a cluster they must be on a
filesystem every worker mounts at that path. The output may be any ``tf.io.gfile`` path (``gs://``).
"""

from __future__ import annotations

import logging
import time

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from lipkeras.preprocess import pipeline as pipe
from lipkeras.preprocess.cli import BEAM_RUNNERS  # noqa: F401  (one list for the CLI and this module)
from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.records import io as rio

log = logging.getLogger("lipkeras.preprocess")
COUNTERS = "lipkeras.preprocess"


class ProcessClip(beam.DoFn):
    """``(shard, position, item)`` → ``(shard, (position, item, process() result))``; never raises."""

    def __init__(self, cfg: dict):
        self.cfg = cfg  # a plain dict: what travels to the workers must pickle

    def setup(self):
        from lipkeras import _quiet  # noqa: F401  (TF and MediaPipe log lines, before their import)
        from lipkeras.preprocess import landmarks as lmk
        from lipkeras.preprocess.process import process

        self._cfg = PreprocessConfig(**self.cfg)
        self._process = process
        # Once per worker: import MediaPipe, check the model and build one landmarker, so that a broken
        # install fails the worker here instead of skipping every clip. The landmarker that reads a clip
        # is still made per clip (process_video): VIDEO-mode tracking state must not leak across clips,
        # and the records must equal the local run's.
        lmk.verify_model()
        lmk.FaceLandmarker(video=True, max_faces=self._cfg.max_faces, blendshapes=self._cfg.blendshapes).close()
        self._processed = Metrics.counter(COUNTERS, "clips_processed")
        self._written = Metrics.counter(COUNTERS, "clips_written")
        self._skipped = Metrics.counter(COUNTERS, "clips_skipped")
        self._frames = Metrics.counter(COUNTERS, "frames_written")

    def process(self, element):
        shard, position, item = element
        try:
            result = self._process(item, self._cfg)
        except Exception as exc:  # noqa: BLE001 - process() catches everything; a bad input must not fail the job
            result = ("skip", f"unexpected error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}", {})
        self._processed.inc()
        if result[0] == "ok":
            self._written.inc()
            self._frames.inc(int(result[2].get("frames", 0)))
        else:
            self._skipped.inc()  # the reason is logged and kept by the shard writer
        yield shard, (position, item, result)


class WriteShard(beam.DoFn):
    """``(shard, [(position, item, result)])`` → the shard's finished manifest entry, its file written whole."""

    def __init__(self, output: str, shards: dict[str, tuple[str, int]], compression: str):
        self.output = output
        self.shards = shards  # name → (split, planned clips)
        self.compression = compression

    def setup(self):
        self._shards_written = Metrics.counter(COUNTERS, "shards_written")

    def process(self, element):
        name, clips = element
        clips = sorted(clips, key=lambda c: c[0])
        split, planned = self.shards[name]
        if len(clips) != planned:  # cannot happen with a correct runner: fail the bundle, it is retried
            raise RuntimeError(f"{name}: {len(clips)} of {planned} planned clips reached the shard writer")
        shard = pipe.Shard(name, split, [item for _, item, _ in clips])
        entry = pipe.write_shard(self.output, shard, ((item, result) for _, item, result in clips), self.compression)
        self._shards_written.inc()
        yield entry


def _write_manifest(entries: list[dict], manifest: dict, output: str, started: float, discovery_skips: int) -> dict:
    Metrics.counter(COUNTERS, "inputs_skipped_by_discovery").inc(discovery_skips)
    for entry in sorted(entries, key=lambda e: e["name"]):
        pipe.add_entry(manifest, entry)
    # wall-clock time since the driver planned the run (the workers' clocks, not a perf counter)
    return pipe.write_manifest(manifest, output, time.time() - started)


def build(p: beam.Pipeline, plan: pipe.RunPlan, started: float) -> beam.PCollection:
    """Add the preprocessing steps of ``plan`` to ``p``; returns the PCollection of the manifest."""
    cfg = plan.cfg
    clips = [(sh.name, k, item) for sh in plan.todo for k, item in enumerate(sh.items)]
    shards = {sh.name: (sh.split, len(sh.items)) for sh in plan.todo}
    entries = (
        p
        | "Clips" >> beam.Create(clips)
        | "Spread" >> beam.Reshuffle()
        | "Process" >> beam.ParDo(ProcessClip(cfg.to_dict()))
        | "ByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.ParDo(WriteShard(plan.output, shards, cfg.compression))
    )
    return (
        entries
        | "Entries" >> beam.combiners.ToList()
        | "WriteManifest" >> beam.Map(_write_manifest, pipe.new_manifest(plan), plan.output, started,
                                      len(plan.skipped))
    )


def pipeline_options(pipeline_args=(), beam_runner: str | None = None) -> PipelineOptions:
    """Beam options from the command line's unknown flags; ``beam_runner`` (if given) sets ``--runner``."""
    args = list(pipeline_args)
    if beam_runner:
        args += ["--runner", beam_runner]
    options = PipelineOptions(args)
    worker = options.view_as(beam.options.pipeline_options.WorkerOptions)
    if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
        worker.default_sdk_harness_log_level = "WARNING"  # not an INFO line per bundle from every worker
    return options


def local_runner(options: PipelineOptions):
    """The runner for ``DirectRunner`` (or none named): Beam's FnApiRunner, or None for another runner.

    Beam's DirectRunner first tries the Prism runner, which downloads a binary from GitHub (failing
    offline), then falls back to the FnApiRunner for batch pipelines: this goes there directly, as
    Beam's DirectRunner builds it (with the options, so the workers get them too). It honours
    ``--direct_num_workers`` and ``--direct_running_mode`` (``multi_processing``: one process each)."""
    if options.view_as(beam.options.pipeline_options.StandardOptions).runner not in (None, "DirectRunner"):
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return fn_runner.FnApiRunner(provision_info=provision)


def counters(result) -> dict[str, int]:
    """The ``lipkeras.preprocess`` counters of a finished pipeline (committed values, else attempted)."""
    from apache_beam.metrics.metric import MetricsFilter

    found = result.metrics().query(MetricsFilter().with_namespace(COUNTERS))["counters"]
    return {c.key.metric.name: int(c.committed if c.committed is not None else c.attempted) for c in found}


def run(input_path, output, cfg: PreprocessConfig, pipeline_args=(), beam_runner: str | None = None) -> dict:
    """Preprocess ``input_path`` into ``output`` with Beam; returns the manifest it wrote, with the
    pipeline's counters under ``"beam_counters"`` (not written to ``manifest.json``)."""
    started = time.time()
    options = pipeline_options(pipeline_args, beam_runner)
    plan = pipe.plan_run(input_path, output, cfg)
    for sk in plan.skipped:
        log.warning("skipped %s: %s", sk.path, sk.reason)
    log.info("beam: %d clips in %d shards to write, %d shards resumed", sum(len(s.items) for s in plan.todo),
             len(plan.todo), len(plan.done))
    p = beam.Pipeline(runner=local_runner(options), options=options)
    build(p, plan, started)
    result = p.run()
    result.wait_until_finish()
    import json

    manifest = json.loads(rio.read_text(rio.join(plan.output, pipe.MANIFEST)))
    manifest["beam_counters"] = counters(result)
    log.info("beam counters: %s", " ".join(f"{k}={v}" for k, v in sorted(manifest["beam_counters"].items())))
    return manifest


def main(argv: list[str] | None = None) -> int:
    from lipkeras.preprocess.cli import main as cli_main

    return cli_main(argv, runner="beam")


if __name__ == "__main__":
    import sys

    sys.exit(main())
