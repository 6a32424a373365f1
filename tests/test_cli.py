import json
import os
import subprocess
import sys

import pytest


def _run(*args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in sys.path if p])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("module", [["-m", "lipkeras"], ["-m", "lipkeras.preprocess"]])
def test_help(module):
    r = _run(*module, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout


def test_subcommand_help():
    for sub in ("preprocess", "inspect", "demo"):
        r = _run("-m", "lipkeras", sub, "--help")
        assert r.returncode == 0 and sub in r.stdout


def test_console_script_is_installed():
    import shutil

    if shutil.which("lipkeras") is None:
        pytest.skip("lipkeras console script not on PATH (package not pip-installed)")
    r = subprocess.run(["lipkeras", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("lipkeras ")


def test_inspect_json_and_png(tiny_records, tmp_path):
    png = tmp_path / "sheet.png"
    r = _run("-m", "lipkeras", "inspect", str(tiny_records), "--json", "--png", str(png))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["count"] == 4 and s["frames_min"] == 5 and s["frames_max"] == 8
    assert s["rois"]["mouth"] == {"shape": [32, 32, 1], "dtype": "uint8"}
    assert s["examples"][0]["transcript"] == "bin blue at f two now"
    assert s["labels"] == {"angry": 1, "happy": 1, "sad": 1}
    import cv2

    img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.shape == (32, 32 * 5)  # one row of the first clip's 5 frames
    text = _run("-m", "lipkeras", "inspect", str(tiny_records))
    assert "4 clips in 2 shards" in text.stdout


def test_inspect_errors_are_one_line(tmp_path):
    r = _run("-m", "lipkeras", "inspect", str(tmp_path))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no .tfrecord shards" in r.stderr
    bad = tmp_path / "all-00000-of-00001.tfrecord"
    bad.write_bytes(b"\x00" * 100)
    r = _run("-m", "lipkeras", "inspect", str(tmp_path))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "unreadable records" in r.stderr


def test_folder_inputs_skip_hidden_files_and_keep_order(tmp_path):
    from lipkeras.cli import _inputs

    (tmp_path / "b").mkdir()
    for name in ("a.MP4", "._a.mp4", "notes.txt", "b/c.mpg", "b/.d.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "e.mp4").mkdir()  # a folder named like a video is not an input
    got = _inputs([str(tmp_path), "explicit.avi"], (".mp4", ".mpg"))
    assert got == [str(tmp_path / "a.MP4"), str(tmp_path / "b/c.mpg"), "explicit.avi"]


HEAVY = ("tensorflow", "keras", "mediapipe", "cv2", "jiwer", "jax", "torch")


def _heavy_modules_after(*argv: str) -> list[str]:
    code = ("import sys\nfrom lipkeras.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    r = _run("-c", code, *argv)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.rsplit("HEAVY ", 1)[1].replace("'", '"'))


def test_help_and_inspect_do_not_import_tensorflow(tiny_records, tmp_path):
    assert _heavy_modules_after("--help") == []
    assert _heavy_modules_after("inspect", "--help") == []
    # inspect reads shards with lipkeras.records.wire; --png needs OpenCV only
    assert _heavy_modules_after("inspect", str(tiny_records)) == []
    assert _heavy_modules_after("inspect", str(tiny_records), "--png", str(tmp_path / "a.png")) == ["cv2"]


def test_inspect_draws_the_chosen_clip_and_counts_folder_speakers(tiny_records, tmp_path):
    from lipkeras.records import io as rio
    from lipkeras.records import schema
    from conftest import tiny_clip

    png = tmp_path / "c2.png"
    r = _run("-m", "lipkeras", "inspect", str(tiny_records), "--json", "--png", str(png), "--clip", "c2")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["png"]["clip_id"] == "s1/c2"
    import cv2

    assert cv2.imread(str(png), cv2.IMREAD_UNCHANGED).shape == (32, 32 * 7)  # c2 has 7 frames
    r = _run("-m", "lipkeras", "inspect", str(tiny_records), "--png", str(png), "--clip", "nope")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "'nope'" in r.stderr
    # a plain folder of TED clips: records from before preprocess named their speakers ('') count by id
    out = tmp_path / "ted"
    out.mkdir()
    w = rio.AtomicShardWriter(out / rio.shard_name("all", 0, 1), "none")
    for i, clip_id in enumerate(["95ovIJ3dsNk_00009", "95ovIJ3dsNk_00011", "0akiEFwtkyA_00002", "1749006627"]):
        w.write(schema.encode(tiny_clip(clip_id, T=3, seed=i) | {"speaker": ""}))
    w.commit()
    s = json.loads(_run("-m", "lipkeras", "inspect", str(out), "--json").stdout)
    assert s["count"] == 4 and s["speakers"] == 2 and s["clips_without_speaker"] == 1


def test_plain_folder_speakers_come_from_sub_folders_or_name_prefixes():
    from lipkeras.preprocess.labels import speaker_from_name

    assert speaker_from_name("s1/bbaf3s") == "s1"
    assert speaker_from_name("95ovIJ3dsNk_00009") == "95ovIJ3dsNk"
    assert speaker_from_name("a_b-c_00001") == "a_b-c"
    assert speaker_from_name("00001") == "" and speaker_from_name("1749006627") == ""


def test_transcribe_help_explains_seconds():
    r = _run("-m", "lipkeras", "transcribe", "--help")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "'seconds' is this machine's processing time" in text and "video_seconds" in text
