"""Which clips train, validate and test a run (lipkeras.train.clip_splits): each rule of the precedence."""

import json
import subprocess
import sys

import pytest

from lipkeras.train.clip_splits import (GRID_S1_SPLITS, Clip, ClipSplits, SplitError, SplitOptions, decide,
                                        trained_clip_ids)


def _clips(n=20, speakers=("a", "b", "c", "d", "e"), split=""):
    return [Clip(f"{speakers[i % len(speakers)]}/c{i:02d}", speakers[i % len(speakers)], split) for i in range(n)]


def _speakers_of(result: ClipSplits, split: str) -> set[str]:
    return {i.split("/")[0] for i in result.ids[split]}


def test_explicit_ids_come_first_and_train_defaults_to_the_rest(tmp_path):
    clips = _clips()
    val_file = tmp_path / "val.txt"
    val_file.write_text("a/c00\nb/c01\nnot/here\n")
    r = decide(clips, SplitOptions(val_ids=str(val_file), test_ids="c/c02,d/c03", split_ratio="0.8,0.2"), "REC")
    assert r.source == "ids" and r.ids["val"] == ["a/c00", "b/c01"] and r.ids["test"] == ["c/c02", "d/c03"]
    assert r.counts["train"] == 16 and not set(r.ids["train"]) & set(r.ids["val"] + r.ids["test"])
    assert any("--split-ratio" in w and "ignored" in w for w in r.warnings)
    assert any("1 of the --val-ids" in w for w in r.warnings)
    with pytest.raises(SplitError, match=r"REC: no validation clips named.*--val-ids"):
        decide(clips, SplitOptions(train_ids="a/c00,b/c01"), "REC")
    with pytest.raises(SplitError, match="missing.txt: --val-ids file not found"):
        decide(clips, SplitOptions(val_ids=str(tmp_path / "missing.txt")), "REC")
    split_names = decide(_clips(4, split="x")[:2] + [Clip("v1", "z", "dev"), Clip("v2", "z", "dev")],
                         SplitOptions(train_split="x", val_split="dev"), "REC")
    assert split_names.ids["val"] == ["v1", "v2"] and split_names.counts["train"] == 2


def test_ratio_by_speaker_is_disjoint_deterministic_and_seeded():
    clips = _clips(100, speakers=tuple("abcdefghij"))
    opts = SplitOptions(split_ratio="0.8,0.1,0.1")
    r = decide(clips, opts, "REC")
    assert r.source == "ratio" and r.detail["split_by"] == "speaker" and sum(r.counts.values()) == 100
    train, val, test = (_speakers_of(r, s) for s in ("train", "val", "test"))
    assert val and test and not (train & val or train & test or val & test)
    assert r.counts == {"train": 80, "val": 10, "test": 10}  # 10 clips a speaker: exact
    assert decide(list(reversed(clips)), opts, "REC").ids == r.ids  # the order of the records does not matter
    assert decide(clips, SplitOptions(split_ratio="0.8,0.1,0.1", split_seed=1), "REC").ids != r.ids
    by_clip = decide(clips, SplitOptions(split_ratio="0.8,0.1,0.1", split_by="clip"), "REC")
    assert by_clip.counts == {"train": 80, "val": 10, "test": 10} and _speakers_of(by_clip, "val") & train


def test_named_speakers_make_their_splits():
    r = decide(_clips(), SplitOptions(val_speakers="b", test_speakers="c,d"), "REC")
    assert _speakers_of(r, "val") == {"b"} and _speakers_of(r, "test") == {"c", "d"}
    assert _speakers_of(r, "train") == {"a", "e"}
    with pytest.raises(SplitError, match="--val-speakers 'zz' is not a speaker"):
        decide(_clips(), SplitOptions(val_speakers="zz"), "REC")
    spk = [Clip(f"s{k}/c{i}", f"s{k}") for k in (1, 2, 3) for i in range(3)]
    assert _speakers_of(decide(spk, SplitOptions(val_speakers="2"), "REC"), "val") == {"s2"}  # "2" names "s2"


def test_one_speaker_needs_split_by_clip():
    clips = [Clip(f"c{i:02d}") for i in range(12)]  # a flat folder of one's own videos: no speaker names
    with pytest.raises(SplitError, match="no speaker-disjoint split.*--split-by clip"):
        decide(clips, SplitOptions(split_ratio="0.8,0.1,0.1"), "REC")
    r = decide(clips, SplitOptions(split_ratio="0.8,0.1,0.1", split_by="clip"), "REC")
    assert r.counts == {"train": 10, "val": 1, "test": 1}


def test_records_split_field_then_grid_lists_then_error():
    clips = _clips(6, split="train") + [Clip("v/1", "v", "val"), Clip("t/1", "t", "test"), Clip("o/1", "o", "all")]
    r = decide(clips, SplitOptions(), "REC")
    assert r.source == "records_split" and r.counts == {"train": 6, "val": 1, "test": 1}
    assert any("1 clips of REC are in no train/val/test split" in w for w in r.warnings)

    lists = {s: (GRID_S1_SPLITS / f"{s}.txt").read_text().split() for s in ("train", "val", "test")}
    grid = [Clip(i, "s1", "all") for s in lists for i in lists[s][:5]]
    r = decide(grid, SplitOptions(), "tfrecords/grid_s1")
    assert r.source == "grid_s1" and r.counts == {"train": 5, "val": 5, "test": 5}
    assert r.ids["val"] == sorted(lists["val"][:5])

    with pytest.raises(SplitError) as e:  # one GRID-looking id too many: not GRID records
        decide(grid + [Clip("me/clip01", "me", "all")], SplitOptions(), "/tmp/my_records")
    message = str(e.value)
    assert "\n" not in message and message.startswith("/tmp/my_records: ") and "--split-ratio" in message


def test_overlap_is_refused_unless_allowed():
    clips = _clips(6)
    opts = dict(train_ids="a/c00,b/c01,c/c02", val_ids="c/c02,d/c03")
    with pytest.raises(SplitError, match="REC: 1 val clips are also training clips.*--allow-overlap true"):
        decide(clips, SplitOptions(**opts), "REC")
    r = decide(clips, SplitOptions(**opts, allow_overlap=True), "REC")
    assert r.detail["overlap_with_train"] == {"val": 1, "test": 0}
    assert any(w.startswith("WARNING: 1 of the 2 val clips are also training clips") for w in r.warnings)


def test_bad_options_fail_in_the_config():
    from lipkeras.train.config import DecoderConfig, LipReadingConfig

    with pytest.raises(ValueError, match="--split-ratio must be 2 or 3 fractions"):
        LipReadingConfig(split_ratio="0.8,0.3")
    with pytest.raises(ValueError, match="split_by must be one of"):
        DecoderConfig(split_by="actor")
    assert LipReadingConfig().train_ids is None and LipReadingConfig().val_ids is None  # no GRID default any more


def test_trained_clip_ids_of_runs_and_shipped_models(tmp_path):
    from lipkeras.paths import PACKAGE_ROOT

    shipped = trained_clip_ids(PACKAGE_ROOT.parent / "saved_models" / "grid_lipreader" / "model.keras")
    assert shipped is not None and len(shipped[0]) == 640 and "s1/bbaf3s" in shipped[0]
    r = decide(_clips(), SplitOptions(split_ratio="0.5,0.5", split_by="clip"), "REC")
    r.save(tmp_path)
    assert trained_clip_ids(tmp_path / "best.keras") == (set(r.ids["train"]), str(tmp_path / "clip_splits.json"))
    assert (tmp_path / "val_ids.txt").read_text().split() == r.ids["val"]
    assert json.loads((tmp_path / "clip_splits.json").read_text())["counts"]["val"] == 10
    assert trained_clip_ids(tmp_path / "nothing" / "model.keras") is None


def test_records_are_read_and_an_empty_id_list_keeps_no_text(tiny_records):
    from lipkeras.train.clip_splits import read_clips, resolve
    from lipkeras.train.config import LipReadingConfig
    from lipkeras.train.text_corpus import load_sentences

    clips = read_clips(tiny_records)
    assert sorted(c.clip_id for c in clips) == ["s1/c0", "s1/c1", "s1/c2", "s1/c3"] and clips[0].split == "all"
    r = resolve(tiny_records, LipReadingConfig(split_ratio="0.5,0.5", split_by="clip"))
    assert r.counts == {"train": 2, "val": 2, "test": 0}
    assert load_sentences(tiny_records, []) == [] and len(load_sentences(tiny_records, r.ids["val"])) == 2


def test_train_cli_says_how_to_split_unsplit_records(tiny_records, tmp_path):
    r = subprocess.run([sys.executable, "-m", "lipkeras.train", "--stage", "lipnet", "--data", str(tiny_records),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tiny_records) in lines[0] and "--split-ratio 0.8,0.1,0.1 --split-by clip" in lines[0]


def test_a_text_file_is_text_not_a_shard(tmp_path):
    """``--stage decoder --text sentences.txt`` reads sentences (it was read as a TFRecord shard)."""
    from lipkeras.train.text_corpus import is_records, load_sentences

    text = tmp_path / "sentences.txt"
    text.write_text("bin blue at f two now\nlay red by g nine soon\n")
    assert not is_records(text)
    assert load_sentences(text) == ["bin blue at f two now", "lay red by g nine soon"]
