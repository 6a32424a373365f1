"""`lipkeras app` on loopback: seconds from uploading a 3-second clip to its transcript shown.

    python benchmarks/app.py [--requests 5] [--clients 4] [--per-client 3] [--browser-requests 3]

Starts the app on a free loopback port (it loads and warms up grid_lipreader and fer_emotion
before it listens), then uploads the bundled 3-second GRID clip ``bbaf3s.mp4`` to its
``/read_upload`` endpoint and waits for the full answer (transcript, emotion, n-best, tokens,
the mouth GIF and the emotion plot):

* one person: ``--requests`` uploads one after another, with Gradio's own client
  (``gradio_client``: upload, queue, read, every output fetched);
* in a browser (when Debian's chromium and chromium-driver are installed): ``--browser-requests``
  times from choosing the file in headless Chromium to the transcript shown in the page;
* several people at once: ``--clients`` clients (threads, each its own ``gradio_client`` session)
  each upload the clip ``--per-client`` times, all started together.

Reports mean, p50, p95 and max seconds and failures; prints the figures and writes
``benchmarks/results/app.json`` with the machine's CPU (``benchmarks/host.py``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import host  # benchmarks/host.py: the CPU the figures were measured on
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LIP_MODEL, EMOTION_MODEL = "grid_lipreader", "fer_emotion"


def start_app(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "lipkeras", "app", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        line = proc.stdout.readline()
        if "loaded" in line or "listening on" in line:
            print(line.strip())
        if "listening on" in line:
            return proc
        if not line and proc.poll() is not None:
            raise SystemExit("the app did not start")


def server_seconds(status: str) -> float:
    """The app's own time for the request, from the page's status ("timings: 2.31 s in all ...")."""
    return float(status.split("timings: ")[1].split(" s in all")[0])


def summary(times: list[float], failed: int, wall: float | None = None, server: list[float] = ()) -> dict:
    t = np.asarray(times)
    out = {"requests": len(times) + failed, "failed": failed, "mean_s": round(float(t.mean()), 3),
           "p50_s": round(float(np.median(t)), 3), "p95_s": round(float(np.percentile(t, 95)), 3),
           "max_s": round(float(t.max()), 3)}
    if len(server):  # reading the video (preprocessing, models, plot, GIF): the rest is upload, queue, page
        out["server_p50_s"] = round(float(np.median(server)), 3)
    if wall is not None:
        out |= {"wall_s": round(wall, 3), "clips_per_minute": round(60 * len(times) / wall, 1)}
    return out


def upload_once(client, clip: Path) -> tuple[float, str, float]:
    """Seconds from the upload's start to the whole answer back, the transcript shown and the app's
    own seconds for it."""
    from gradio_client import handle_file

    t0 = time.perf_counter()
    status, *_ = client.predict(handle_file(str(clip)), LIP_MODEL, EMOTION_MODEL, api_name="/read_upload")
    seconds = time.perf_counter() - t0
    if "transcript:" not in status:
        raise RuntimeError(status)
    return seconds, status.split("transcript: **")[1].split("**")[0], server_seconds(status)


def one_person(url: str, clip: Path, requests: int) -> tuple[dict, str]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    upload_once(client, clip)  # warm-up: the client's first call fetches the API description
    times, server, text = [], [], ""
    for _ in range(requests):
        seconds, text, on_server = upload_once(client, clip)
        times.append(seconds)
        server.append(on_server)
    return summary(times, 0, server=server), text


def people_at_once(url: str, clip: Path, clients: int, per_client: int) -> dict:
    from gradio_client import Client

    sessions = [Client(url, verbose=False) for _ in range(clients)]

    def person(client) -> tuple[list[float], int]:
        times, failed = [], 0
        for _ in range(per_client):
            try:
                times.append(upload_once(client, clip)[0])  # queueing behind the others included
            except Exception as e:  # noqa: BLE001  (counted, not fatal: the figure is how many got their answer)
                print(f"  failed: {' '.join(str(e).split())[:200]}")
                failed += 1
        return times, failed

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        done = list(pool.map(person, sessions))
    wall = time.perf_counter() - t0
    return {"clients": clients, "per_client": per_client} | summary([t for ts, _ in done for t in ts],
                                                                     sum(f for _, f in done), wall)


def in_browser(url: str, clip: Path, requests: int) -> dict | None:
    """Choosing the file in headless Chromium → the transcript in the page, ``requests`` times."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        print("browser: skipped (chromium and chromium-driver are not installed)")
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    times, server = [], []
    try:
        for k in range(requests + 1):  # the first is a warm-up (the browser's caches)
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#read-sample"))
            next(t for t in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]") if t.text == "Upload").click()
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
            t0 = time.perf_counter()
            driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(clip))
            WebDriverWait(driver, 60, poll_frequency=0.05).until(
                lambda d: clip.stem in "".join(d.find_element(By.CSS_SELECTOR, "#upload").text.split()))
            driver.find_element(By.CSS_SELECTOR, "#read-upload").click()
            WebDriverWait(driver, 300, poll_frequency=0.05).until(  # the transcript's own element, not a progress text
                lambda d: d.find_elements(By.CSS_SELECTOR, "#transcript div.transcript span"))
            if k:
                times.append(time.perf_counter() - t0)
                server.append(server_seconds(driver.find_element(By.CSS_SELECTOR, "#status").text))
    finally:
        driver.quit()
    return summary(times, 0, server=server)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=5, help="one person's uploads, one after another")
    p.add_argument("--browser-requests", type=int, default=3, help="uploads timed in headless Chromium (0: none)")
    p.add_argument("--clients", type=int, default=4, help="people using the app at once")
    p.add_argument("--per-client", type=int, default=3, help="uploads each of them makes")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "app.json"))
    args = p.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from lipkeras.app.ui import free_port
    from lipkeras.paths import GRID_SAMPLE

    clip = GRID_SAMPLE / "s1" / "bbaf3s.mp4"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = start_app(port)
    results = {"machine": host.describe(), "date": time.strftime("%Y-%m-%d"),
               "load_average": [round(x, 1) for x in os.getloadavg()],  # other jobs on the machine slow every figure
               "app_concurrency": 2, "clip": clip.name,
               "video_seconds": 3.0, "models": [LIP_MODEL, EMOTION_MODEL],
               "start_s": round(time.perf_counter() - t0, 1)}
    try:
        results["one_person"], text = one_person(url, clip, args.requests)
        results["transcript"] = text
        r = results["one_person"]
        print(f"one person, {r['requests']} uploads of a 3 s clip (gradio_client): p50 {r['p50_s']} s, "
              f"p95 {r['p95_s']} s, max {r['max_s']} s (in the app {r['server_p50_s']} s) → '{text}'")
        if args.browser_requests:
            results["browser"] = in_browser(url, clip, args.browser_requests)
            if results["browser"]:
                r = results["browser"]
                print(f"one person in headless Chromium, {r['requests']} uploads: p50 {r['p50_s']} s, "
                      f"max {r['max_s']} s (file chosen → transcript shown; in the app {r['server_p50_s']} s)")
        results["at_once"] = people_at_once(url, clip, args.clients, args.per_client)
        r = results["at_once"]
        print(f"{r['clients']} people at once, {r['per_client']} uploads each: p50 {r['p50_s']} s, p95 {r['p95_s']} s, "
              f"max {r['max_s']} s, {r['clips_per_minute']} clips/min, failed {r['failed']} of {r['requests']}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    results["start_s_note"] = "python -m lipkeras app until it listens: imports, model loading, one warm-up read"
    print(f"app start-up (imports, loading, warm-up): {results['start_s']} s")
    from lipkeras.records.io import write_json_atomic

    out = Path(args.out)
    write_json_atomic(out, results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
