"""lipkeras.records.wire, the TensorFlow-free TFRecord/tf.train.Example reader, against TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from lipkeras.records import wire


def _examples(tf):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes()  # a frames-sized payload
    feats = [
        {"clip_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"s1/bbaf3s"])),
         "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=[big, b"", "é".encode()])),
         "ints": tf.train.Feature(int64_list=tf.train.Int64List(value=[0, 1, -1, 2**63 - 1, -2**63, 300])),
         "floats": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5, -1e30, float("inf"), 3.25])),
         "empty_ints": tf.train.Feature(int64_list=tf.train.Int64List(value=[])),
         "unset": tf.train.Feature()},
        {},  # an Example without features
    ]
    return [tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString() for f in feats]


def _as_tf(tf, raw: bytes) -> dict:
    out = {}
    for key, f in tf.train.Example.FromString(raw).features.feature.items():
        kind = f.WhichOneof("kind")
        out[key] = list(getattr(f, kind).value) if kind else []
    return out


def test_parse_example_reads_what_tensorflow_reads():
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()
    for raw in _examples(tf):
        want, got = _as_tf(tf, raw), wire.parse_example(raw)
        assert set(got) == set(want)
        for key, values in want.items():
            if key in ("ints", "floats", "empty_ints"):
                np.testing.assert_array_equal(got[key], np.asarray(values, got[key].dtype))
            else:
                assert list(got[key]) == values, key
        if "ints" in got:
            assert got["ints"].dtype == np.int64 and got["floats"].dtype == np.float32


def test_unpacked_repeated_scalars_are_read_too():
    # proto2-style writers emit one tag per value (wire types 0 and 5) instead of a packed run
    def varint(n):
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    def ld(field, payload):
        return varint(field << 3 | 2) + varint(len(payload)) + payload

    ints = ld(3, varint(1 << 3) + varint(7) + varint(1 << 3) + varint((1 << 64) - 2))
    floats = ld(2, varint(1 << 3 | 5) + np.float32(1.5).tobytes())
    entry = lambda k, f: ld(1, ld(1, k.encode()) + ld(2, f))  # noqa: E731
    got = wire.parse_example(ld(1, entry("i", ints) + entry("f", floats)))
    assert got["i"].tolist() == [7, -2] and got["f"].tolist() == [1.5]


@pytest.mark.parametrize("compression", ["GZIP", ""])
def test_read_records_matches_tfrecorddataset(tmp_path, compression):
    from lipkeras._quiet import import_tensorflow

    tf = import_tensorflow()
    raws = _examples(tf) + [b"", b"x" * 10]
    path = str(tmp_path / "a.tfrecord")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type=compression)) as w:
        for r in raws:
            w.write(r)
    assert list(wire.read_records(path, verify_data=True)) == raws
    assert [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type=compression)] == raws


def test_schema_records_decode_without_tensorflow(tiny_records):
    from lipkeras._quiet import import_tensorflow
    from lipkeras.records import schema
    from lipkeras.records.inspect import iter_records

    tf = import_tensorflow()
    raw = next(iter_records(str(tiny_records)))[1]
    rec = schema.decode_numpy(raw)
    parsed = schema.parse(tf.constant(raw), rois=("mouth", "face"), landmarks=False)
    np.testing.assert_array_equal(rec["mouth"], parsed["mouth"].numpy())
    np.testing.assert_array_equal(rec["face"], parsed["face"].numpy())
    assert rec["clip_id"] == parsed["clip_id"].numpy().decode() and rec["num_frames"] == int(parsed["num_frames"])


def test_truncated_and_garbage_shards_fail_with_the_file_named(tiny_records, tmp_path):
    shard = sorted(tiny_records.glob("*.tfrecord"))[0]
    import gzip

    plain = tmp_path / "plain.tfrecord"
    plain.write_bytes(gzip.decompress(shard.read_bytes()))
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(plain.read_bytes()[:-100])
    with pytest.raises(wire.RecordError, match="cut.tfrecord: truncated record"):
        list(wire.read_records(str(cut)))
    cut_gz = tmp_path / "cut_gz.tfrecord"
    cut_gz.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(wire.RecordError, match="cut_gz.tfrecord"):
        list(wire.read_records(str(cut_gz)))
    garbage = tmp_path / "zeros.tfrecord"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(wire.RecordError, match="length checksum"):
        list(wire.read_records(str(garbage)))
    flipped = bytearray(plain.read_bytes())
    flipped[40] ^= 0xFF
    (tmp_path / "flip.tfrecord").write_bytes(bytes(flipped))
    with pytest.raises(wire.RecordError, match="data checksum"):
        list(wire.read_records(str(tmp_path / "flip.tfrecord"), verify_data=True))
    with pytest.raises(wire.RecordError, match="not a tf.train.Example"):
        wire.parse_example(b"\x0a\xff\xff")
