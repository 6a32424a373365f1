"""``lipkeras app``: its pure functions, and the page driven end to end in headless Chromium.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and Selenium pointed at ``/usr/bin/chromedriver``: nothing is downloaded. A screenshot of the
page is saved in ``runs/test_artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, write_video

from lipkeras.app import analysis

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = REPO / "runs" / "test_artifacts"
SAMPLE = "bbaf3s.mp4"  # GRID s1: "bin blue at f three soon", read right by grid_lipreader


# ---------------------------------------------------------------------------- pure functions

def test_transcript_html_colours_each_character_by_confidence():
    page = analysis.transcript_html("a <b", [1.0, 0.5, 0.0, 0.9])
    assert page.count("<span") == 4 and "&lt;" in page and "<b" not in page.replace("<span", "")
    assert "hsl(120," in page and "hsl(0," in page and 'title="0.50"' in page
    assert "no words" in analysis.transcript_html("", [])


def test_ctc_tokens_nbest_and_summary():
    tokens = ["<blank>", " ", "a", "b", "<sos/eos>"]
    text = analysis.ctc_tokens_text([2, 2, 0, 1, 3], tokens)
    assert "aa·␣b" in text and "token ids: 2 2 0 1 3" in text and text.startswith("5 frames")
    assert analysis.nbest_rows([{"text": "a b", "score": -1.23456}, {"text": "a", "score": None}]) == [
        [1, "a b", -1.235], [2, "a", ""]]
    r = {"video": "v.mp4", "model": "grid_lipreader", "emotion_model": "fer_emotion", "text": "a b", "confidence": 0.4,
         "in_domain": False, "emotion": "sad", "emotion_confidence": 0.7, "warning": "unreliable transcript: x",
         "wall_seconds": 2.0, "video_seconds": 3.0, "frames": 75, "preprocess_seconds": 1.0, "seconds": 1.5}
    md = analysis.summary_markdown(r)
    assert "**a b**" in md and "out of the model's domain" in md and "**sad**" in md and "⚠ unreliable" in md


def test_bad_videos_are_one_line_each(tmp_path, grid_sample):
    sample = grid_sample / "s1" / SAMPLE
    assert analysis.check_video(sample) == pytest.approx(3.0, abs=0.1)
    (tmp_path / "notes.txt").write_text("not a video")
    for path, kwargs, reason in [(tmp_path / "notes.txt", {}, "notes.txt: not a readable video"),
                                 (tmp_path / "gone.mp4", {}, "gone.mp4: file not found"),
                                 (sample, {"max_mb": 0.01}, f"{SAMPLE}: too large (0.1 MB; the app reads videos up to"),
                                 (sample, {"max_seconds": 1}, f"{SAMPLE}: too long (3.0 s; the app reads videos up to 1 s)")]:
        with pytest.raises(analysis.InputError) as e:
            analysis.check_video(path, **kwargs)
        assert str(e.value).startswith(reason) and "\n" not in str(e.value)


def test_emotion_figure_and_mouth_gif(tmp_path):
    r = {"emotion_frame_indices": [0, 10, 20], "emotion_frame_probs": [[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]],
         "emotion_labels": ["happy", "sad"], "emotion": "happy", "emotion_model": "fer_emotion", "fps": 25.0}
    fig = analysis.emotion_figure(r)
    assert [line.get_label() for line in fig.axes[0].lines] == ["happy", "sad"]
    gif = analysis.mouth_gif(np.zeros((4, 8, 8, 1), np.uint8), tmp_path / "m.gif")
    assert gif.read_bytes()[:3] == b"GIF"


def test_an_unexpected_failure_is_one_line_too(grid_sample, tmp_path, capsys):
    pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e \".[app]\")")
    from lipkeras.app import ui

    class Broken(analysis.Models):
        def lip_reader(self, name):
            raise RuntimeError("model file damaged\nsecond line")

    status, *rest = ui.answer(Broken(), str(grid_sample / "s1" / SAMPLE), SAMPLE, "grid_lipreader", "fer_emotion",
                              50, 30, tmp_path)
    assert status == f"**error:** {SAMPLE}: cannot read the video (RuntimeError: model file damaged)"
    assert rest[0] == "" and "Traceback" in capsys.readouterr().err  # the trace goes to the server's log
    assert ui.answer(Broken(), None, None, "grid_lipreader", "fer_emotion", 50, 30, tmp_path)[0].startswith(
        "**error:** no video")


def test_a_taken_port_is_one_line_before_any_model_loads():
    pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e \".[app]\")")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "lipkeras", "app", "--port", str(port)], check=False, cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and time.monotonic() - t0 < 60
    assert run.stderr.strip().splitlines()[-1] == (f"lipkeras app: error: 127.0.0.1:{port}: Address already in use "
                                                   "(--port chooses another; 0: any free one)")


# ---------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def app_url():
    pytest.importorskip("gradio", reason="the app extra is not installed (pip install -e \".[app]\")")
    from lipkeras.app.ui import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "lipkeras", "app", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "listening on" in line:
                break
            if not line and proc.poll() is not None:
                pytest.fail("lipkeras app exited:\n" + "".join(lines[-20:]))
        else:
            pytest.fail("lipkeras app did not start in 240 s:\n" + "".join(lines[-20:]))
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def y4m_of(video: Path, out: Path) -> Path:
    """``video`` as a raw YUV4MPEG file: what Chromium's fake webcam plays (in a loop)."""
    import av

    with av.open(str(video)) as src, av.open(str(out), "w", format="yuv4mpegpipe") as dst:
        stream = src.streams.video[0]
        raw = dst.add_stream("rawvideo", rate=25)
        raw.width, raw.height, raw.pix_fmt = stream.width, stream.height, "yuv420p"
        for frame in src.decode(stream):
            for packet in raw.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in raw.encode():
            dst.mux(packet)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory, grid_sample):
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip("chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    camera = y4m_of(grid_sample / "s1" / SAMPLE, tmp_path_factory.mktemp("camera") / "grid.y4m")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # Debian's browser and driver: Selenium Manager downloads nothing
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,2200",
                 # a webcam that films the GRID speaker, with the camera permission granted
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-video-capture={camera}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _text_of(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


def _wait_for_status(driver, *words, timeout=180) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: all(w in _text_of(d, "#status") for w in words))
    return " ".join(_text_of(driver, "#status").split())  # code spans wrap onto lines of their own


def _open(driver, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#read-sample"))


def test_a_bundled_sample_is_read_in_the_browser(app_url, browser):
    from selenium.webdriver.common.by import By

    _open(browser, app_url)
    browser.find_element(By.CSS_SELECTOR, "#read-sample").click()
    status = _wait_for_status(browser, "transcript:", SAMPLE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    time.sleep(1.0)  # let the plot and the GIF paint before the screenshot
    browser.save_screenshot(str(ARTIFACTS / "app_sample.png"))
    assert _text_of(browser, "#transcript").replace("\n", "") == "bin blue at f three soon"
    assert "read by grid_lipreader and fer_emotion" in status
    assert "emotion: happy" in status and "happy" in _text_of(browser, "#emotion")
    assert "bin blue at f three soon" in _text_of(browser, "#nbest")
    assert "token ids:" in browser.find_element(By.CSS_SELECTOR, "#ctc-tokens textarea").get_attribute("value")
    assert browser.find_elements(By.CSS_SELECTOR, "#mouth img") and browser.find_elements(By.CSS_SELECTOR, "#emotion-plot img")


def test_a_non_video_upload_is_one_clear_line(app_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a video\n")
    _open(browser, app_url)
    next(t for t in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if t.text == "Upload").click()
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(notes))
    WebDriverWait(browser, 30).until(lambda d: "notes.txt" in "".join(_text_of(d, "#upload").split()))
    browser.find_element(By.CSS_SELECTOR, "#read-upload").click()
    status = _wait_for_status(browser, "error:", timeout=60)
    browser.save_screenshot(str(ARTIFACTS / "app_bad_upload.png"))
    assert status.startswith("error: notes.txt: not a readable video")
    assert "Traceback" not in status and len(status) < 300
    # over the size limit: Gradio refuses it in the browser, before uploading, and names it
    huge = tmp_path / "huge.mp4"
    with open(huge, "wb") as f:
        f.truncate(int((analysis.MAX_MB + 1) * 2**20))  # sparse: nothing is written
    _open(browser, app_url)
    next(t for t in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if t.text == "Upload").click()
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(huge))
    # read the toast in the same poll that sees it: it closes itself after a few seconds
    seen = []
    WebDriverWait(browser, 30).until(
        lambda d: "exceed the maximum allowed size" in (seen.append(d.find_element(By.TAG_NAME, "body").text) or seen[-1])
    )
    assert f'maximum allowed size of {analysis.MAX_MB:g}.0 Mb: "huge.mp4"' in seen[-1]
    # the app keeps serving: the next request is read
    _open(browser, app_url)
    browser.find_element(By.CSS_SELECTOR, "#read-sample").click()
    assert "transcript:" in _wait_for_status(browser, "transcript:")


def test_a_webcam_recording_is_read(app_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def button(css):
        WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
        return browser.find_element(By.CSS_SELECTOR, css)

    _open(browser, app_url)
    next(t for t in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if t.text == "Webcam").click()
    button("#recording div[title='grant webcam access'] button").click()
    button("#recording button[aria-label='start recording']").click()
    time.sleep(3.0)  # a GRID sentence is 3 s
    button("#recording button.capture-button").click()  # stop
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#recording video[src]"))
    button("#read-recording").click()
    status = _wait_for_status(browser, "transcript:", "webcam recording")
    browser.save_screenshot(str(ARTIFACTS / "app_webcam.png"))
    assert "webcam recording read by grid_lipreader and fer_emotion" in status and "emotion:" in status
    assert _text_of(browser, "#transcript").strip()


def test_two_people_at_once_and_a_video_without_a_face(app_url, grid_sample, tmp_path):
    """Through Gradio's own client (each its own session): two uploads at once both get their
    transcript, and a video with no face in it gets its one line."""
    import concurrent.futures

    from gradio_client import Client, handle_file

    blank = write_video(tmp_path / "blank.mp4", np.full((25, 64, 64, 3), 128, np.uint8))

    def read(video: Path) -> str:
        client = Client(app_url, verbose=False)
        return client.predict(handle_file(str(video)), "grid_lipreader", "fer_emotion", api_name="/read_upload")[0]

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(read, [grid_sample / "s1" / SAMPLE, grid_sample / "s1" / "bgin3a.mp4", blank]))
    assert "transcript: **bin blue at f three soon**" in statuses[0]
    assert "transcript: **bin green in" in statuses[1]
    assert statuses[2] == "**error:** blank.mp4: no face detected in any of 25 frames"
