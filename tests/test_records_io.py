"""Records on any ``tf.io.gfile`` filesystem (TF's ``ram://``) and the reader's auto-shard policy."""

import json
import uuid

import pytest

from lipkeras.records import io as rio


def _tf():
    from lipkeras._quiet import import_tensorflow

    return import_tensorflow()


@pytest.fixture
def ram_folder():
    return f"ram://io-{uuid.uuid4().hex}/records"


def test_auto_shard_policy_choice():
    from lipkeras.records.reader import auto_shard_policy

    policy = _tf().data.experimental.AutoShardPolicy
    assert auto_shard_policy(num_files=4, num_workers=2) == policy.FILE
    assert auto_shard_policy(num_files=2, num_workers=2) == policy.FILE
    assert auto_shard_policy(num_files=1, num_workers=2) == policy.DATA  # a worker would get no file
    assert auto_shard_policy(num_files=8, num_workers=1) == policy.DATA  # one worker: nothing to split


def test_records_dataset_carries_the_policy(ram_folder, monkeypatch):
    from lipkeras.records.reader import cluster_workers, records

    rio.makedirs(ram_folder)
    for k in range(3):
        w = rio.AtomicShardWriter(rio.join(ram_folder, rio.shard_name("all", k, 3)))
        w.write(f"r{k}".encode())
        w.commit()
    policy = _tf().data.experimental.AutoShardPolicy

    def chosen(ds):
        return ds.options().experimental_distribute.auto_shard_policy

    assert chosen(records(ram_folder, num_workers=2)) == policy.FILE
    assert chosen(records(ram_folder, num_workers=4)) == policy.DATA
    cluster = {"cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert cluster_workers() == 3 and chosen(records(ram_folder)) == policy.FILE
    monkeypatch.delenv("TF_CONFIG")
    assert cluster_workers() == 1 and chosen(records(ram_folder)) == policy.DATA
    assert sorted(records(ram_folder).as_numpy_iterator()) == [b"r0", b"r1", b"r2"]


def test_shards_and_manifest_on_ram(ram_folder):
    from lipkeras.records.wire import read_records

    rio.makedirs(ram_folder)
    name = rio.shard_name("train", 0, 1)
    w = rio.AtomicShardWriter(rio.join(ram_folder, name), "gzip")
    for r in (b"a", b"bb"):
        w.write(r)
    with pytest.raises(FileNotFoundError, match="no .tfrecord shards"):  # the temp file is hidden
        rio.list_shards(ram_folder)
    w.commit()
    shard = rio.join(ram_folder, name)
    assert rio.list_shards(ram_folder) == [shard] == rio.list_shards(rio.join(ram_folder, "train-*.tfrecord"))
    assert rio.list_shards(shard) == [shard]
    assert rio.compression_of(shard) == "GZIP" and list(read_records(shard)) == [b"a", b"bb"]
    aborted = rio.AtomicShardWriter(rio.join(ram_folder, rio.shard_name("val", 0, 1)))
    aborted.write(b"x")
    aborted.abort()
    assert _tf().io.gfile.listdir(ram_folder) == [name]
    rio.write_json_atomic(rio.join(ram_folder, "manifest.json"), {"written": 2})
    assert json.loads(rio.read_text(rio.join(ram_folder, "manifest.json"))) == {"written": 2}
    assert sorted(_tf().io.gfile.listdir(ram_folder)) == ["manifest.json", name]
    rio.remove(shard)
    rio.remove(shard)  # gone already: fine, as for a retried step
    assert not rio.exists(shard)


def test_local_paths_stay_pathlib(tmp_path):
    assert not rio.is_remote(tmp_path) and rio.is_remote("gs://b/x") and rio.is_remote("ram://x")
    assert rio.join(tmp_path, "a") == tmp_path / "a" and rio.join("gs://b/x/", "a") == "gs://b/x/a"
    assert rio.basename("gs://b/x/a.tfrecord") == "a.tfrecord"
