"""`lipkeras serve` on a free loopback port: TF Serving's REST API on the shipped models, the
:transcribe extension, bad requests answered with the right code while the server keeps serving,
and a clean stop on SIGTERM."""

from __future__ import annotations

import base64
import concurrent.futures
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import latest_export, read_fer_faces, write_video

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ("grid_lipreader", "grid_crossmodal", "fer_emotion", "fer_emotion_fast")


def start_server(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "lipkeras", "serve", "--port", "0", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.split("listening on ")[1].split()[0]
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"server did not start: {proc.stderr.read()[-3000:]}")


@pytest.fixture(scope="module")
def server():
    proc, url = start_server("--model-base-path", "saved_models", "--max-body-mb", "16")
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def fer_faces(shared_data):
    return read_fer_faces(shared_data, per_label=2)


def test_status_and_metadata_of_every_shipped_model(server):
    for name in SHIPPED:
        status = requests.get(f"{server}/v1/models/{name}").json()
        (entry,) = status["model_version_status"]
        assert entry["state"] == "AVAILABLE" and entry["status"]["error_code"] == "OK"
        version = entry["version"]
        assert requests.get(f"{server}/v1/models/{name}/versions/{version}").status_code == 200
        meta = requests.get(f"{server}/v1/models/{name}/versions/{version}/metadata").json()
        assert meta["model_spec"] == {"name": name, "signature_name": "", "version": version}
        signatures = meta["metadata"]["signature_def"]["signature_def"]
        assert {"serving_default", "tf_example"} <= set(signatures)
        default = signatures["serving_default"]
        assert default["method_name"] == "tensorflow/serving/predict"
        assert all(v["dtype"].startswith("DT_") for v in default["inputs"].values())


def test_emotion_predict_row_and_columnar_match_keras(server, fer_faces):
    from lipkeras.emotion import EmotionReader

    _, served = latest_export("fer_emotion")
    reader = EmotionReader("fer_emotion", precision=served["precision"], views=served.get("views", 1))  # as served
    expected = reader.predict_faces(fer_faces)
    url = f"{server}/v1/models/fer_emotion:predict"
    rows = requests.post(url, json={"signature_name": "faces_uint8", "instances": fer_faces.tolist()})
    assert rows.status_code == 200, rows.text
    predictions = rows.json()["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], expected, atol=1e-5)
    assert [p["label"] for p in predictions] == [reader.labels[i] for i in expected.argmax(1)]
    cols = requests.post(url, json={"inputs": {"faces": (fer_faces / 255.0).tolist()}}).json()["outputs"]
    np.testing.assert_allclose(cols["probabilities"], expected, atol=1e-5)
    assert cols["label"] == [p["label"] for p in predictions]


@pytest.mark.parametrize("name", ["grid_lipreader", "grid_crossmodal"])
def test_lip_reader_predict_with_b64_examples_and_frames(server, sample_records, name):
    from lipkeras.lipreader import LipReader, prepare_frames
    from lipkeras.records.inspect import iter_records
    from lipkeras.records.schema import parse

    raws = [raw for _, raw in iter_records(str(sample_records))][:2]
    reader = LipReader(name)

    def texts_of(mouths):  # what the graph decodes: greedy CTC, or greedy attention for cross-modal models
        frames = np.stack([prepare_frames(m, reader.meta["crop_size"]) for m in mouths])
        lengths = np.array([len(m) for m in mouths], np.int32)
        if reader.kind == "crossmodal":
            return reader.recognizer.greedy(frames, lengths)
        return [r["text"] for r in reader.recognize_batch(frames, lengths, beam_width=1)]

    mouths = [parse(r)["mouth"].numpy() for r in raws]
    url = f"{server}/v1/models/{name}:predict"
    rows = requests.post(url, json={"signature_name": "tf_example",
                                    "instances": [{"b64": base64.b64encode(r).decode()} for r in raws]})
    assert rows.status_code == 200, rows.text
    assert [p["text"] for p in rows.json()["predictions"]] == texts_of(mouths)
    mouth = mouths[0][:40]
    cols = requests.post(url, json={"signature_name": "frames_uint8",
                                    "inputs": {"frames": [mouth.tolist()], "frame_lengths": [40]}})
    assert cols.status_code == 200, cols.text
    out = cols.json()["outputs"]
    assert out["text"] == texts_of([mouth]) and np.asarray(out["log_probs"]).shape == (1, 40, 40)
    # the text alone, without the ~50 kB/s of log-probabilities beside it
    only_text = requests.post(url, json={"signature_name": "frames_uint8", "output_filter": ["text"],
                                         "inputs": {"frames": [mouth.tolist()], "frame_lengths": [40]}})
    assert only_text.status_code == 200 and only_text.json() == {"outputs": out["text"]}, only_text.text


def test_transcribe_extension_returns_the_cli_json(server, grid_sample):
    clip = sorted((grid_sample / "s1").glob("*.mp4"))[0]
    raw = requests.post(f"{server}/v1/models/grid_lipreader:transcribe?filename={clip.name}", data=clip.read_bytes(),
                        headers={"Content-Type": "application/octet-stream"})
    assert raw.status_code == 200, raw.text
    result = raw.json()
    assert {"video", "text", "frames", "seconds", "model", "emotion", "emotion_probs"} <= set(result)
    assert result["video"] == clip.name and result["model"] == "grid_lipreader" and result["frames"] == 75
    assert len(result["text"].split()) == 6
    # the trust fields of `lipkeras transcribe`, from the export's calibration and domain (assets.extra)
    assert 0.5 < result["confidence"] <= 1 and len(result["word_confidences"]) == 6
    assert result["in_domain"] and "warning" not in result and 0 <= result["emotion_confidence"] <= 1
    with clip.open("rb") as f:
        multipart = requests.post(f"{server}/v1/models/grid_lipreader:transcribe?emotion_model=none",
                                  files={"video": (clip.name, f, "video/mp4")})
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["text"] == result["text"] and "emotion" not in multipart.json()


def test_transcribe_extension_warns_on_a_clip_unlike_the_training_data(server, shared_data):
    clip = sorted((shared_data / "wild" / "lrs3").glob("*.mp4"))[0]
    answer = requests.post(f"{server}/v1/models/grid_lipreader:transcribe?filename={clip.name}&emotion_model=none",
                           data=clip.read_bytes())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert not result["in_domain"] and result["warning"].startswith("unreliable transcript")


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(server, tmp_path):
    predict = f"{server}/v1/models/fer_emotion:predict"
    face = np.zeros((48, 48, 1)).tolist()
    cases = [
        (requests.post(predict, data=b"{not json"), 400, "JSON Parse error"),
        (requests.post(predict, data=b""), 400, "empty"),
        (requests.post(predict, json={"instances": [np.zeros((40, 40, 1)).tolist()]}), 400, "expected shape"),
        (requests.post(predict, json={"instances": [[["a"] * 1] * 48] * 1}), 400, "float32"),
        (requests.post(predict, json={"instances": [face], "inputs": [face]}), 400, "instances"),
        (requests.post(predict, json={"signature_name": "nope", "instances": [face]}), 400, "nope"),
        (requests.post(f"{server}/v1/models/nobody:predict", json={"instances": [face]}), 404, "Latest(nobody)"),
        (requests.post(f"{server}/v1/models/fer_emotion/versions/99:predict", json={"instances": [face]}), 404,
         "Specific(fer_emotion, 99)"),
        (requests.get(f"{server}/v1/elsewhere"), 404, "Malformed request"),
        (requests.post(predict, data=b"x" * (17 << 20)), 413, "limit"),
        (requests.post(f"{server}/v1/models/fer_emotion:transcribe", data=b"123"), 400, "not a lipkeras lip reader"),
    ]
    faceless = tmp_path / "faceless.mp4"
    write_video(faceless, np.full((20, 64, 64, 3), 128, np.uint8))
    cases.append((requests.post(f"{server}/v1/models/grid_lipreader:transcribe?filename=faceless.mp4",
                                data=faceless.read_bytes()), 400, "faceless.mp4: no face"))
    for response, code, words in cases:
        assert response.status_code == code, (code, response.text)
        assert words in response.json()["error"], response.text
    assert requests.get(f"{server}/v1/models/fer_emotion").status_code == 200


def test_sixteen_concurrent_clients(server):
    face = (np.random.default_rng(0).random((4, 48, 48, 1))).tolist()

    def call(_):
        return requests.post(f"{server}/v1/models/fer_emotion:predict", json={"instances": face}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert list(pool.map(call, range(64))) == [200] * 64


def test_sigterm_stops_cleanly():
    proc, url = start_server("--model-base-path", "saved_models", "--models", "fer_emotion")
    assert requests.get(f"{url}/v1/models/fer_emotion").status_code == 200
    assert requests.get(f"{url}/v1/models/grid_lipreader").status_code == 404  # not asked for
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    log = proc.stderr.read()
    assert '"GET /v1/models/fer_emotion" 200' in log and "stopped" in log


@pytest.fixture(scope="module")
def app_client():
    """The REST app in-process (Werkzeug's test client): no port, two models."""
    from werkzeug.test import Client

    from lipkeras.serve.app import ServingApp
    from lipkeras.serve.repository import ModelRepository

    app = ServingApp(ModelRepository(REPO / "saved_models", names=["grid_lipreader", "fer_emotion"]))
    yield Client(app)
    app.close()


def test_lipkeras_json_over_rest(app_client):
    for name in ("grid_lipreader", "fer_emotion"):
        path, expected = latest_export(name)
        meta = app_client.get(f"/v1/models/{name}/metadata")
        assert meta.status_code == 200 and meta.json["lipkeras"] == expected
        assert "signature_def" in meta.json["metadata"]["signature_def"]  # TF Serving's part unchanged
        for url in (f"/v1/models/{name}/lipkeras", f"/v1/models/{name}/versions/{path.name}/lipkeras"):
            r = app_client.get(url)
            assert r.status_code == 200 and r.json == expected, url
    assert app_client.get("/v1/models/fer_emotion/lipkeras").json["labels"][3] == "happy"
    assert "vocab" in app_client.get("/v1/models/grid_lipreader/lipkeras").json
    assert app_client.get("/v1/models/fer_emotion/versions/99/lipkeras").status_code == 404
    assert app_client.post("/v1/models/fer_emotion/lipkeras").status_code == 405


def test_predict_output_filter(app_client, fer_faces):
    # the filter is the same code for every signature; the lip readers' case is in the test above
    url = "/v1/models/fer_emotion:predict"
    faces = fer_faces[:3].tolist()
    full = app_client.post(url, json={"signature_name": "faces_uint8", "instances": faces}).json["predictions"]
    labels = app_client.post(url, json={"signature_name": "faces_uint8", "instances": faces,
                                        "output_filter": ["label"]})
    assert labels.status_code == 200, labels.text
    assert labels.json == {"predictions": [p["label"] for p in full]}  # one output: plain values, as TF Serving
    cols = app_client.post(url, json={"signature_name": "faces_uint8", "inputs": faces,
                                      "output_filter": ["label", "probabilities"]})
    assert cols.status_code == 200 and set(cols.json["outputs"]) == {"label", "probabilities"}, cols.text
    for bad, words in ((["text"], "['text'] not outputs"), ("label", "non-empty list"), ([], "non-empty list")):
        r = app_client.post(url, json={"signature_name": "faces_uint8", "instances": faces, "output_filter": bad})
        assert r.status_code == 400 and words in r.json["error"], r.text
