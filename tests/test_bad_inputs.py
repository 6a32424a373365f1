"""Every kind of bad input is skipped with a one-line reason; the good clip is still written;
no partial shard or temp file is left; the exit status is non-zero only when nothing was written."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import write_video
from lipkeras.preprocess import PreprocessConfig, run

EXPECTED = {
    "empty.mp4": "empty file",
    "corrupt.mp4": "not a readable video",
    "truncated.mp4": "truncated",
    "notvideo.mp4": "not a readable video",
    "faceless.mp4": "no face detected",
    "audioonly.mp4": "no video stream",
    "notranscript.mp4": "missing transcript",
}


def _cli_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in sys.path if p])
    return env


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory, grid_sample):
    root = tmp_path_factory.mktemp("bad")
    os.chmod(root.parent, 0o755)
    os.chmod(root, 0o755)
    good = grid_sample / "s1" / "bbaf3s.mp4"
    shutil.copy(good, root / "good.mp4")
    (root / "empty.mp4").write_bytes(b"")
    (root / "corrupt.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (root / "truncated.mp4").write_bytes(good.read_bytes()[:30000])
    (root / "notvideo.mp4").write_text("this is a text file, not a video\n" * 50)
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, None, :, None], (25, 64, 1, 3))
    write_video(root / "faceless.mp4", ramp)
    with __import__("av").open(str(root / "audioonly.mp4"), "w") as out:  # audio but no video stream
        st = out.add_stream("aac", rate=16000)
        st.layout = "mono"
        frame = __import__("av").AudioFrame.from_ndarray(np.zeros((1, 16000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 16000
        for pkt in list(st.encode(frame)) + list(st.encode()):
            out.mux(pkt)
    shutil.copy(good, root / "notranscript.mp4")
    shutil.copy(good, root / "unreadable.mp4")
    for f in root.glob("*.mp4"):
        if f.name != "notranscript.mp4":
            f.with_suffix(".txt").write_text("bin blue at f three soon\n")
    os.chmod(root / "unreadable.mp4", 0)
    return root


def test_each_bad_input_is_skipped_with_its_reason(bad_folder, tmp_path):
    out = tmp_path / "out"
    m = run(bad_folder, out, PreprocessConfig(dataset="folder", workers=1, rois=("mouth",), mouth_size=32),
            progress=False)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in m["skipped"]}
    for name, why in EXPECTED.items():
        assert name in reasons, f"{name} not skipped"
        assert why in reasons[name], (name, reasons[name])
        assert "\n" not in reasons[name] and "Traceback" not in reasons[name]
    if os.geteuid() == 0:  # root reads mode-000 files; the CLI test below drops that privilege
        assert m["written"] == 2
    else:
        assert "permission denied" in reasons["unreadable.mp4"] and m["written"] == 1
    shards = sorted(p.name for p in out.iterdir())
    assert shards == ["all-00000-of-00001.tfrecord", "manifest.json"]  # no temp files, no partial shards


def test_cli_reports_skips_in_one_line_each_and_unreadable_files(bad_folder, tmp_path):
    out = tmp_path / "cli_out"
    out.parent.chmod(0o777)
    cmd = [sys.executable, "-m", "lipkeras.preprocess", str(bad_folder), str(out), "--workers", "2",
           "--rois", "mouth", "--mouth-size", "32", "--quiet"]
    if os.geteuid() == 0:
        # root reads mode-000 files; drop the capabilities that let it, so permissions apply.
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, env=_cli_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    m = json.loads((out / "manifest.json").read_text())
    reasons = {os.path.basename(s["path"]): s["reason"] for s in m["skipped"]}
    assert "permission denied" in reasons["unreadable.mp4"]
    assert m["written"] == 1 and len(reasons) == len(EXPECTED) + 1
    for name, why in reasons.items():
        line = [ln for ln in r.stderr.splitlines() if name in ln]
        assert len(line) == 1 and line[0].startswith("skipped ") and why in line[0], (name, r.stderr[-1500:])


def test_nothing_written_exits_non_zero_with_no_shard(bad_folder, tmp_path):
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    for name in ("empty", "corrupt", "faceless"):
        shutil.copy(bad_folder / f"{name}.mp4", only_bad)
        shutil.copy(bad_folder / f"{name}.txt", only_bad)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "lipkeras.preprocess", str(only_bad), str(out), "--workers", "1",
                        "--quiet"], capture_output=True, text=True, env=_cli_env(), timeout=300)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "wrote 0 clips" in r.stdout
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    assert len(json.loads((out / "manifest.json").read_text())["skipped"]) == 3


def test_missing_input_folder_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lipkeras", "preprocess", str(tmp_path / "nope"), str(tmp_path / "o")],
                       capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"lipkeras preprocess: error: {tmp_path / 'nope'}: input not found"]


def test_a_folder_without_inputs_says_so_in_one_line(tmp_path):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.md").write_text("no videos here")
    r = subprocess.run([sys.executable, "-m", "lipkeras", "preprocess", str(tmp_path / "nothing"), str(tmp_path / "o")],
                       capture_output=True, text=True, env=_cli_env(), timeout=120)
    assert r.returncode == 1 and "wrote 0 clips" in r.stdout
    # no progress bar for zero clips: the reason is the only line
    assert r.stderr.strip().splitlines() == [
        f"lipkeras preprocess: {tmp_path / 'nothing'}: no inputs found for --dataset folder"]


def test_broken_untranscribed_videos_are_reported_as_broken_and_audio_files_as_audio_only(tmp_path, grid_sample):
    good = grid_sample / "s1" / "bbaf3s.mp4"
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(good, root / "good.mp4")
    (root / "good.txt").write_text("bin blue at f three soon\n")
    (root / "truncated.mp4").write_bytes(good.read_bytes()[:30000])  # no transcript either
    (root / "corrupt.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    shutil.copy(good, root / "untranscribed.mp4")
    (root / "voice.mp3").write_bytes(b"ID3")
    from lipkeras.preprocess.sources import discover

    items, skipped = discover(root, "folder")
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert [os.path.basename(i.path) for i in items] == ["good.mp4"]
    assert "truncated" in reasons["truncated.mp4"] and "transcript" not in reasons["truncated.mp4"]
    assert "not a readable video" in reasons["corrupt.mp4"]
    assert reasons["untranscribed.mp4"].startswith("missing transcript")
    assert reasons["voice.mp3"].startswith("audio-only file")


def test_a_folder_without_any_transcript_fails_naming_the_flag(tmp_path, grid_sample):
    root = tmp_path / "in"
    root.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(grid_sample / "s1" / "bbaf3s.mp4", root / name)
    r = subprocess.run([sys.executable, "-m", "lipkeras", "preprocess", str(root), str(tmp_path / "out"), "--quiet"],
                       capture_output=True, text=True, env=_cli_env(), timeout=300)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "--allow-missing-transcripts" in errors[0] and "none of the 2 videos" in errors[0]
    assert "Traceback" not in r.stderr
