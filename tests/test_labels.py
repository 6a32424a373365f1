from pathlib import Path

import pytest

from lipkeras.preprocess import labels as lab
from lipkeras.preprocess.errors import SkipInput


def test_grid_align_drops_silence(tmp_path):
    p = tmp_path / "bbaf3s.align"
    p.write_text("0 17750 sil\n17750 22500 bin\n22500 27000 blue\n27000 28000 sp\n28000 31000 f\n46750 74500 sil\n")
    assert lab.read_grid_align(p) == "bin blue f"


def test_grid_align_only_silence_is_skipped(tmp_path):
    p = tmp_path / "x.align"
    p.write_text("0 100 sil\n")
    with pytest.raises(SkipInput, match="empty transcript"):
        lab.read_grid_align(p)


def test_lrs_text_line_and_plain_text(tmp_path):
    lrs = tmp_path / "00001.txt"
    lrs.write_text("Text:  I HAVE LONG BEEN AN EARNEST ADVOCATE\nConf:  4\n\nWORD START END ASDSCORE\nI 0.1 0.2 1\n")
    assert lab.read_transcript_txt(lrs) == "i have long been an earnest advocate"
    plain = tmp_path / "plain.txt"
    plain.write_text("  Good   Morning \n")
    assert lab.read_transcript_txt(plain) == "good morning"


def test_label_csv(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("filename,label\n1749006627.mp4,good morning\nsub/x.mp4,hello\n")
    assert lab.read_label_csv(p) == {"1749006627.mp4": "good morning", "x.mp4": "hello"}


def test_ravdess_all_seven_fields():
    from pathlib import Path

    f = lab.parse_ravdess(Path("Actor_12/02-01-06-02-01-02-12.mp4"))
    assert f == {"modality": "video-only", "vocal_channel": "speech", "emotion": "fear", "intensity": "strong",
                 "statement": "kids are talking by the door", "repetition": "2", "actor": "12", "sex": "female"}
    with pytest.raises(SkipInput, match="not a RAVDESS file name"):
        lab.parse_ravdess(Path("clip.mp4"))
    with pytest.raises(SkipInput, match="emotion code 09"):
        lab.parse_ravdess(Path("03-01-09-01-01-01-01.wav"))


def test_emotion_synonyms_are_canonical():
    assert lab.canonical_emotion("Fearful") == "fear"
    assert lab.canonical_emotion("surprised") == "surprise"
    assert lab.canonical_emotion("sadness") == "sad"
    assert lab.canonical_emotion("anger") == "angry"
    with pytest.raises(SkipInput, match="unknown emotion"):
        lab.canonical_emotion("bored")


def test_cremad_names():
    f = lab.parse_cremad(Path("1001_DFA_ANG_XX.flv"))
    assert f == {"actor": "1001", "sentence": "don't forget a jacket", "sentence_code": "DFA", "emotion": "angry",
                 "intensity": "unspecified"}
    assert lab.parse_cremad(Path("1091_IEO_HAP_HI.mp3"))["intensity"] == "high"
    for bad, why in (("clip.mp4", "not a CREMA-D file name"), ("0999_DFA_ANG_XX.flv", "actor 0999 out of range"),
                     ("1001_XYZ_ANG_XX.flv", "sentence code XYZ"), ("1001_DFA_CAL_XX.wav", "emotion code CAL"),
                     ("1001_DFA_ANG_ZZ.wav", "intensity code ZZ")):
        with pytest.raises(SkipInput, match=why):
            lab.parse_cremad(Path(bad))


def test_cremad_sample_videos_and_audio_tracks_are_found(shared_data):
    from lipkeras.preprocess.sources import discover

    folder = shared_data / "cremad_sample"
    items, skipped = discover(folder, "cremad", require_transcript=False, audio=True)
    kinds = sorted((i.kind, i.speaker) for i in items)
    assert kinds == [("audio", "1002")] * 6 + [("video", "1001")] * 6 and not skipped
    assert {i.label for i in items} == {"angry", "disgust", "fear", "happy", "neutral", "sad"}
    _, without_audio = discover(folder, "cremad", require_transcript=False, audio=False)
    assert len(without_audio) == 6 and all("--audio" in s.reason for s in without_audio)


def test_bundled_cremad_sample_is_the_shared_clips_one_per_emotion_and_packaged():
    """``lipkeras/samples/cremad``: actor 1001's six clips, byte-identical to the hashes its README
    lists, one per CREMA-D emotion, and shipped with the package (setup.cfg package_data)."""
    import configparser
    import hashlib
    import re

    from lipkeras.paths import CREMAD_SAMPLE

    clips = sorted(CREMAD_SAMPLE.glob("*.flv"))
    assert [lab.parse_cremad(c)["emotion"] for c in clips] == sorted(lab.CREMAD_EMOTIONS.values())
    assert {lab.parse_cremad(c)["actor"] for c in clips} == {"1001"}
    readme = (CREMAD_SAMPLE / "README.md").read_text()
    listed = dict(re.findall(r"`(\S+\.flv)` \|[^|]*\| `([0-9a-f]{64})`", readme))
    assert listed == {c.name: hashlib.sha256(c.read_bytes()).hexdigest() for c in clips}
    assert "Open Database License" in readme and "Database Contents License" in readme and "Cao" in readme
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    assert "samples/cremad/*" in cfg["options.package_data"]["lipkeras"].split()


def test_ravdess_speech_split_lists_keep_actors_apart():
    from lipkeras.paths import PACKAGE_ROOT
    from lipkeras.preprocess.splits import read_split_list

    table = read_split_list(PACKAGE_ROOT / "splits" / "ravdess_speech")
    actors = {}
    for clip_id, split in table.items():
        actors.setdefault(split, set()).add(lab.parse_ravdess(Path(clip_id))["actor"])
    assert len(table) == 1200 and {s: len(a) for s, a in actors.items()} == {"train": 14, "val": 2, "test": 4}
    assert not (actors["train"] & actors["val"]) and not (actors["train"] | actors["val"]) & actors["test"]
