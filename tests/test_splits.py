import json

from lipkeras.preprocess.config import PreprocessConfig
from lipkeras.preprocess.sources import Item
from lipkeras.preprocess.splits import assign, ratio_split, read_split_list


def _items(n, speakers=("1", "2", "3")):
    return [Item(f"/v/c{i:03d}.mp4", f"s{speakers[i % len(speakers)]}/c{i:03d}", speaker=speakers[i % len(speakers)])
            for i in range(n)]


def test_ratio_split_is_deterministic_exact_and_stable():
    ids = [f"c{i}" for i in range(100)]
    a = ratio_split(ids, (0.8, 0.1, 0.1), seed=3)
    assert a == ratio_split(list(reversed(ids)), (0.8, 0.1, 0.1), seed=3)
    counts = {s: sum(1 for v in a.values() if v == s) for s in ("train", "val", "test")}
    assert counts == {"train": 80, "val": 10, "test": 10}
    assert a != ratio_split(ids, (0.8, 0.1, 0.1), seed=4)
    # Adding files moves few existing ones (hash order, not a permutation of the list).
    b = ratio_split(ids + [f"new{i}" for i in range(5)], (0.8, 0.1, 0.1), seed=3)
    assert sum(a[i] != b[i] for i in ids) <= 10


def test_speaker_split_normalises_ids():
    cfg = PreprocessConfig(val_speakers=("02",), test_speakers=("s3",))
    items, excluded = assign(_items(9), cfg)
    assert excluded == 0
    assert {it.split for it in items if it.speaker == "1"} == {"train"}
    assert {it.split for it in items if it.speaker == "2"} == {"val"}
    assert {it.split for it in items if it.speaker == "3"} == {"test"}


def test_split_list_formats(tmp_path):
    j = tmp_path / "split.json"
    j.write_text(json.dumps({"train": ["s1/c000", "c001"], "test": ["s3/c002"]}))
    assert read_split_list(j) == {"s1/c000": "train", "c001": "train", "s3/c002": "test"}
    d = tmp_path / "lists"
    d.mkdir()
    (d / "train.txt").write_text("s1/c000\ns2/c001\n")
    (d / "val.txt").write_text("s3/c002\n")
    assert read_split_list(d)["s3/c002"] == "val"
    c = tmp_path / "split.csv"
    c.write_text("clip_id,split\ns1/c000,train\ns2/c001 val\n")
    assert read_split_list(c) == {"s1/c000": "train", "s2/c001": "val"}
    items, excluded = assign(_items(4), PreprocessConfig(split_list=str(j)))
    assert [(it.clip_id, it.split) for it in items] == [("s1/c000", "train"), ("s2/c001", "train"), ("s3/c002", "test")]
    assert excluded == 1


def test_default_split_keeps_folder_splits():
    items = _items(2)
    items[0].split = "test"
    out, _ = assign(items, PreprocessConfig(split_name="all"))
    assert [it.split for it in out] == ["test", "all"]
