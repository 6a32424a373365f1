"""Shard files: atomic writing, compression detection, listing."""

from __future__ import annotations

import glob
import os
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")


class AtomicShardWriter:
    """Write records to a hidden temp file; ``commit`` renames it into place, ``abort`` removes it.

    A killed run leaves only a hidden ``.NAME.tmp-PID`` file, which readers never glob and the
    next run deletes, so a shard on disk is always complete.
    """

    def __init__(self, path: str | Path, compression: str = "gzip"):
        from lipkeras._quiet import import_tensorflow

        tf = import_tensorflow()
        self.path = Path(path)
        self.tmp = tmp_name(self.path)
        opts = tf.io.TFRecordOptions(compression_type="GZIP" if compression == "gzip" else "")
        self._writer = tf.io.TFRecordWriter(str(self.tmp), opts)
        self.count = 0

    def write(self, record: bytes) -> None:
        self._writer.write(record)
        self.count += 1

    def commit(self) -> None:
        self._writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def remove_stale_temps(folder: str | Path) -> list[Path]:
    stale = list(Path(folder).glob(".*.tfrecord.tmp-*"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def list_shards(pattern: str | os.PathLike | list) -> list[str]:
    """Shard paths of a folder, a glob pattern, a file or a list of those (sorted, hidden files skipped)."""
    if isinstance(pattern, (list, tuple)):
        return sorted({f for p in pattern for f in list_shards(p)})
    p = str(pattern)
    if os.path.isdir(p):
        files = glob.glob(os.path.join(p, "*.tfrecord"))
    elif os.path.isfile(p):
        files = [p]
    else:
        files = glob.glob(p)
    files = sorted(f for f in files if not os.path.basename(f).startswith("."))
    if not files:
        raise FileNotFoundError(f"{p}: no .tfrecord shards found")
    return files


def compression_of(path: str) -> str:
    """'GZIP' or '' from the file's first bytes (empty shards count as uncompressed)."""
    with open(path, "rb") as fh:
        return "GZIP" if fh.read(2) == GZIP_MAGIC else ""


def save_keras_atomic(model, path: str | Path) -> Path:
    """``model.save`` to a temp file in the same folder, then rename: never a half-written ``.keras``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


def write_json_atomic(path: str | Path, data) -> None:
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
