"""Preprocess the next videos while the caller reads the last: ``Ahead`` keeps spawned worker
processes busy on the clips to come, so that a folder of videos keeps every core working while
the lip reader (in the calling process) reads one clip after another.

The workers import MediaPipe and OpenCV, never TensorFlow: they start while the caller loads its
models. Results come back in input order; a video that cannot be used comes back as its
``SkipInput`` (the one-line reason, not raised: the next videos go on), any other failure is
raised as in the worker.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import time
from collections.abc import Iterator

from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.preprocess.errors import SkipInput


def _warm() -> None:
    # MediaPipe and OpenCV, loaded once per worker (landmarks.py quiets MediaPipe's native log first)
    import lipkeras.preprocess.process  # noqa: F401


def _preprocess(path: str, cfg_dict: dict):
    from lipkeras.preprocess.process import process_video
    from lipkeras.preprocess.sources import Item

    t0 = time.perf_counter()
    try:
        clip = process_video(Item(path, os.path.splitext(os.path.basename(path))[0]), PreprocessConfig(**cfg_dict))
    except SkipInput as exc:
        return "skip", str(exc), time.perf_counter() - t0
    return "ok", clip, time.perf_counter() - t0


def default_workers() -> int:
    """All cores but the caller's: it reads one clip while the workers preprocess the next ones
    (on 2 cores, 1 and 2 workers measured alike; more workers than cores only contend)."""
    return max(1, (os.cpu_count() or 1) - 1)


class Ahead:
    """``with Ahead(workers) as ahead: for path, clip, seconds in ahead.videos(paths, cfg): ...``

    Up to ``workers`` clips are preprocessed at once in worker processes, ahead of the one the
    caller uses; the first clip is preprocessed in the calling process while the workers finish
    starting. With ``workers`` 0 (or a single video) each clip is preprocessed in the calling
    process when asked for. Start it early: its workers load MediaPipe while the caller loads
    TensorFlow.
    ``clip`` is ``process_video``'s dict, or the ``SkipInput`` saying why there is none;
    ``seconds`` the time its preprocessing took.
    """

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else max(0, int(workers))
        self._pool = None
        if self.workers > 0:
            # spawn, not fork: the caller holds TensorFlow's threads, which fork would copy half-way
            self._pool = mp.get_context("spawn").Pool(self.workers, initializer=_warm)

    def videos(self, paths: list[str], cfg: PreprocessConfig) -> Iterator[tuple[str, dict | SkipInput, float]]:
        cfg_dict = cfg.to_dict()
        if self._pool is None or len(paths) <= 1:
            for p in paths:
                yield p, *self._unpack(_preprocess(p, cfg_dict))
            return
        pending: collections.deque = collections.deque()
        todo = iter(paths[1:])
        for p in todo:  # fill the window: one clip per worker, plus the next in line
            pending.append((p, self._pool.apply_async(_preprocess, (p, cfg_dict))))
            if len(pending) > self.workers:
                break
        # the first clip here, at once, while the workers finish starting up on the next ones
        yield paths[0], *self._unpack(_preprocess(paths[0], cfg_dict))
        while pending:
            p, result = pending.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, self._pool.apply_async(_preprocess, (nxt, cfg_dict))))
            yield p, *self._unpack(result.get())

    @staticmethod
    def _unpack(result: tuple) -> tuple[dict | SkipInput, float]:
        status, payload, seconds = result
        return (SkipInput(payload) if status == "skip" else payload), seconds

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()  # also when the caller stops early: nothing left running
            self._pool.join()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
