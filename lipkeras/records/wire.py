"""Read TFRecord shards and ``tf.train.Example``s without TensorFlow (``lipkeras inspect`` starts in
a fraction of a second instead of paying TensorFlow's ~5 s import).

TFRecord framing, per record::

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

(little-endian). Shards written with GZIP compression are one gzip stream over that framing;
Python's ``gzip`` module reads them. The length CRC is always checked (it catches truncation and
garbage cheaply); the data CRC only with ``verify_data=True``: without a C CRC32C in the standard
library it is pure Python, ~0.3 s per megabyte, too slow for whole folders. A corrupt payload still
fails the protobuf decoding below in practice.

``tf.train.Example`` on the wire (proto3; only what ``Example`` uses)::

    Example   { Features features = 1; }
    Features  { map<string, Feature> feature = 1; }     # entries: {string key = 1; Feature value = 2;}
    Feature   { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1; }              # packed (wire type 2) or not (5)
    Int64List { repeated int64 value = 1; }              # packed (wire type 2) or not (0)
"""

from __future__ import annotations

import gzip
import struct
from typing import Iterator

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"


class RecordError(ValueError):
    """A shard or record that cannot be read; the message names the file and the byte offset."""


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's CRC: rotated right by 15 bits plus a constant (CRCs of CRCs stay distinct)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _open(path: str):
    from lipkeras.records.io import open_binary  # local files with open(), gs:// etc. with tf.io.gfile

    with open_binary(path) as fh:
        magic = fh.read(2)
    if magic != GZIP_MAGIC:
        return open_binary(path)
    if isinstance(path, str) and "://" in path:
        return _RemoteGzip(open_binary(path))
    return gzip.open(path, "rb")


class _RemoteGzip(gzip.GzipFile):
    """A gzip stream over a ``tf.io.gfile`` file that closes that file too."""

    def __init__(self, raw):
        self._raw = raw
        super().__init__(fileobj=raw, mode="rb")

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def read_records(path: str, verify_data: bool = False) -> Iterator[bytes]:
    """The serialized records of one shard (gzip or not, detected from its first bytes)."""
    offset = 0
    try:
        with _open(path) as fh:
            while True:
                header = fh.read(12)
                if not header:
                    return
                if len(header) < 12:
                    raise RecordError(f"{path}: truncated record header at byte {offset}")
                length, length_crc = struct.unpack("<QI", header)
                if masked_crc32c(header[:8]) != length_crc:
                    raise RecordError(f"{path}: corrupt record at byte {offset} (length checksum mismatch)")
                data = fh.read(length)
                footer = fh.read(4)
                if len(data) < length or len(footer) < 4:
                    raise RecordError(f"{path}: truncated record at byte {offset} "
                                      f"(expected {length} bytes of data)")
                if verify_data and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                    raise RecordError(f"{path}: corrupt record at byte {offset} (data checksum mismatch)")
                offset += 16 + length
                yield data
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # truncated or broken gzip stream
        if isinstance(exc, FileNotFoundError):
            raise
        raise RecordError(f"{path}: unreadable after byte {offset} of records "
                          f"({type(exc).__name__}: {exc})") from None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RecordError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise RecordError("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of a message: ints for varints, bytes for
    length-delimited fields, raw 4/8 bytes for fixed32/fixed64."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise RecordError("length-delimited field runs past the end of its message")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            if pos + 4 > end:
                raise RecordError("truncated fixed32 field")
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 1:
            if pos + 8 > end:
                raise RecordError("truncated fixed64 field")
            value, pos = buf[pos:pos + 8], pos + 8
        else:
            raise RecordError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v  # int64 is two's complement in a 64-bit varint


def _feature(buf: bytes):
    """One ``Feature``: a list of bytes, a float32 array or an int64 array (an empty list when unset)."""
    out = []
    for kind, _, payload in _fields(buf):
        if kind == 1:
            out = [bytes(v) for f, w, v in _fields(payload) if f == 1 and w == 2]
        elif kind == 2:
            parts = [np.frombuffer(v, "<f4") for f, w, v in _fields(payload) if f == 1 and w in (2, 5)]
            out = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        elif kind == 3:
            values = []
            for f, w, v in _fields(payload):
                if f != 1:
                    continue
                if w == 0:
                    values.append(_int64(v))
                elif w == 2:  # packed
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        values.append(_int64(x))
            out = np.asarray(values, np.int64)
    return out


def parse_example(data: bytes) -> dict:
    """A serialized ``tf.train.Example`` → ``{name: list of bytes | float32 array | int64 array}``."""
    features = {}
    try:  # a memoryview: slices of it are views, so a record's megabytes of frames are copied once
        for field, wire, value in _fields(memoryview(data)):
            if field != 1 or wire != 2:
                continue
            for f, w, entry in _fields(value):
                if f != 1 or w != 2:
                    continue
                key, feature = "", b""
                for ef, ew, ev in _fields(entry):
                    if ef == 1 and ew == 2:
                        key = bytes(ev).decode()
                    elif ef == 2 and ew == 2:
                        feature = ev
                features[key] = _feature(feature)
    except (RecordError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"not a tf.train.Example: {exc}") from None
    return features
