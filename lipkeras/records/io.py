"""Shard files: atomic writing, compression detection, listing.

Paths with a scheme (``gs://``, ``s3://``, ``hdfs://``, TF's in-memory ``ram://``: anything
``tf.io.gfile`` knows) go through ``tf.io.gfile``; local paths keep ``pathlib`` / ``os``, so
reading local records needs no TensorFlow import.
"""

from __future__ import annotations

import glob
import os
import uuid
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
SHARD_GLOB = "*-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9].tfrecord"


def is_remote(path) -> bool:
    """True for ``scheme://...`` paths (handled by ``tf.io.gfile``), False for local ones."""
    return "://" in str(path)


def _gfile():
    from lipkeras._quiet import import_tensorflow

    return import_tensorflow().io.gfile


def join(folder, name: str) -> str | Path:
    """``folder/name``: a ``Path`` for local folders, a string for remote ones."""
    if is_remote(folder):
        return str(folder).rstrip("/") + "/" + name
    return Path(folder) / name


def basename(path) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1] if is_remote(path) else os.path.basename(path)


def exists(path) -> bool:
    return _gfile().exists(str(path)) if is_remote(path) else os.path.exists(path)


def isdir(path) -> bool:
    return _gfile().isdir(str(path)) if is_remote(path) else os.path.isdir(path)


def makedirs(path) -> None:
    if is_remote(path):
        _gfile().makedirs(str(path))
    else:
        Path(path).mkdir(parents=True, exist_ok=True)


def glob_files(pattern) -> list[str]:
    return _gfile().glob(str(pattern)) if is_remote(pattern) else glob.glob(str(pattern))


def glob_in(folder, pattern: str) -> list[str]:
    """Files of ``folder`` matching ``pattern`` (the folder's own name taken literally when local)."""
    return glob_files(join(folder if is_remote(folder) else glob.escape(str(folder)), pattern))


def remove(path) -> None:
    """Delete a file; a missing one is fine (another attempt may have removed it)."""
    if is_remote(path):
        try:
            _gfile().remove(str(path))
        except Exception as exc:  # tf.errors.NotFoundError, without importing tf.errors here
            if type(exc).__name__ != "NotFoundError":
                raise
    else:
        Path(path).unlink(missing_ok=True)


def read_text(path) -> str:
    if is_remote(path):
        with _gfile().GFile(str(path), "r") as fh:
            return fh.read()
    return Path(path).read_text()


def open_binary(path):
    """A binary file object for reading, local or remote."""
    return _gfile().GFile(str(path), "rb") if is_remote(path) else open(path, "rb")


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def tmp_name(final):
    """The hidden temp file next to ``final``; unique per process and attempt, so two attempts at the
    same shard (a retried Beam bundle) never write into one file."""
    name = f".{basename(final)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return join(str(final).rstrip("/").rsplit("/", 1)[0], name) if is_remote(final) else Path(final).with_name(name)


class AtomicShardWriter:
    """Write records to a hidden temp file; ``commit`` renames it into place, ``abort`` removes it.

    A killed run leaves only a hidden ``.NAME.tmp-PID`` file, which readers never glob and the
    next run deletes, so a shard on disk is always complete.
    """

    def __init__(self, path: str | Path, compression: str = "gzip"):
        from lipkeras._quiet import import_tensorflow

        tf = import_tensorflow()
        self.path = path if is_remote(path) else Path(path)
        self.tmp = tmp_name(self.path)
        opts = tf.io.TFRecordOptions(compression_type="GZIP" if compression == "gzip" else "")
        self._writer = tf.io.TFRecordWriter(str(self.tmp), opts)
        self.count = 0

    def write(self, record: bytes) -> None:
        self._writer.write(record)
        self.count += 1

    def commit(self) -> None:
        self._writer.close()
        if is_remote(self.path):
            # an object store's rename is copy + delete: the final name appears only once the copy is whole
            _gfile().rename(str(self.tmp), str(self.path), overwrite=True)
            return
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            remove(self.tmp)


def remove_stale_temps(folder) -> list:
    stale = glob_in(folder, ".*.tfrecord.tmp-*")
    for p in stale:
        remove(p)
    return stale


def list_shards(pattern: str | os.PathLike | list) -> list[str]:
    """Shard paths of a folder, a glob pattern, a file or a list of those (sorted, hidden files skipped)."""
    if isinstance(pattern, (list, tuple)):
        return sorted({f for p in pattern for f in list_shards(p)})
    p = str(pattern)
    if is_remote(p):
        gfile = _gfile()
        if gfile.isdir(p):
            files = gfile.glob(str(join(p, "*.tfrecord")))
        elif not any(c in p for c in "*?[") and gfile.exists(p):
            files = [p]
        else:
            files = gfile.glob(p)
    elif os.path.isdir(p):
        files = glob.glob(os.path.join(p, "*.tfrecord"))
    elif os.path.isfile(p):
        files = [p]
    else:
        files = glob.glob(p)
    files = sorted(f for f in files if not basename(f).startswith("."))
    if not files:
        raise FileNotFoundError(f"{p}: no .tfrecord shards found")
    return files


def compression_of(path: str) -> str:
    """'GZIP' or '' from the file's first bytes (empty shards count as uncompressed)."""
    with open_binary(path) as fh:
        return "GZIP" if fh.read(2) == GZIP_MAGIC else ""


def save_keras_atomic(model, path: str | Path) -> Path:
    """``model.save`` to a temp file in the same folder, then rename: never a half-written ``.keras``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


def write_json_atomic(path, data) -> None:
    import json

    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    if is_remote(path):
        gfile = _gfile()
        tmp = tmp_name(path)
        with gfile.GFile(str(tmp), "w") as fh:
            fh.write(text)
        gfile.rename(str(tmp), str(path), overwrite=True)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
