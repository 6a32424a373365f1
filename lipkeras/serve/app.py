"""The REST API as a WSGI application (Werkzeug routing), served by ``lipkeras.serve.server``.

TF Serving's REST API:

* ``GET  /v1/models/NAME[/versions/N]``            model status
* ``GET  /v1/models/NAME[/versions/N]/metadata``   signature metadata, plus a ``lipkeras`` field
  (lipkeras extension): the SavedModel's ``assets.extra/lipkeras.json`` (labels or vocabulary,
  preprocessing, signatures); ``{}`` for SavedModels not made by lipkeras
* ``POST /v1/models/NAME[/versions/N]:predict``    ``instances``/``inputs`` → ``predictions``/``outputs``

lipkeras extensions (not in TF Serving):

* ``GET  /v1/models/NAME[/versions/N]/lipkeras``   the SavedModel's ``assets.extra/lipkeras.json``
* ``"output_filter": ["text", ...]`` in a ``:predict`` body: only those outputs come back (the
  field's name in TF Serving's gRPC ``PredictRequest``; its REST API has no such field)

* ``POST /v1/models/NAME[/versions/N]:transcribe`` a whole video (``application/octet-stream``
  body, or ``multipart/form-data`` with one file) → the JSON of ``lipkeras transcribe --json``;
  ``?emotion_model=NAME`` picks the emotion model (default ``fer_emotion`` when served,
  ``none`` for no emotion).

Errors are ``{"error": "..."}`` with TF Serving's codes (400 bad request, 404 unknown model,
version or path, 413 body over the limit, 504 past the request timeout).
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import re
import time

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from lipkeras.serve.predict import parse_json, predict
from lipkeras.serve.repository import ModelRepository, ServingError
from lipkeras.serve.transcribe import transcribe_bytes

log = logging.getLogger("lipkeras.serve")

ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                   r"(?:/(?P<resource>metadata|lipkeras)|:(?P<verb>predict|transcribe))?/?$")
DEFAULT_EMOTION_MODEL = "fer_emotion"


def _json(status: int, payload: dict) -> Response:
    return Response(json.dumps(payload) + "\n", status=status, mimetype="application/json")


class ServingApp:
    """``app(environ, start_response)``: one repository, a worker pool bounding compute time."""

    def __init__(self, repository: ModelRepository, max_body_bytes: int = 64 << 20, request_timeout: float = 120.0,
                 workers: int = 4):
        self.repository = repository
        self.max_body_bytes = max_body_bytes
        self.request_timeout = request_timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="lipkeras-infer")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.max_body_bytes  # multipart parsing stops there too (413)
        t0 = time.perf_counter()
        try:
            response = self.dispatch(request)
        except ServingError as e:
            response = _json(e.status, {"error": e.message})
        except HTTPException as e:
            response = _json(e.code or 400, {"error": e.description or e.name})
        except Exception as e:  # a bug must cost one request, not the server
            log.exception("internal error on %s %s", request.method, request.path)
            response = _json(500, {"error": f"internal error: {type(e).__name__}: {e}"})
        log.info('%s "%s %s" %d %s %.1f ms', request.remote_addr, request.method, request.full_path.rstrip("?"),
                 response.status_code, response.calculate_content_length(), 1000 * (time.perf_counter() - t0))
        return response(environ, start_response)

    def _body(self, request: Request) -> bytes:
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            raise ServingError(413, f"request body of {length} bytes is over the limit of {self.max_body_bytes} bytes")
        data = request.get_data(cache=False)
        if len(data) > self.max_body_bytes:
            raise ServingError(413, f"request body is over the limit of {self.max_body_bytes} bytes")
        return data

    def _run(self, fn, *args):
        future = self.pool.submit(fn, *args)
        try:
            return future.result(timeout=self.request_timeout)
        except concurrent.futures.TimeoutError:
            raise ServingError(504, f"Deadline exceeded: no answer within {self.request_timeout:g} s") from None

    def dispatch(self, request: Request) -> Response:
        m = ROUTE.match(request.path)
        if not m:
            raise ServingError(404, f"Malformed request: {request.method} {request.path}")
        name, version, verb = m["name"], m["version"], m["verb"]
        if version is not None:
            if not version.isdigit():
                raise ServingError(400, f"Malformed request: version must be an integer, got {version!r}")
            version = int(version)
        if verb is None:
            if request.method != "GET":
                raise ServingError(405, f"Malformed request: {request.method} {request.path} (use GET)")
            if m["resource"] == "metadata":
                return _json(200, self.repository.metadata(name, version))
            if m["resource"] == "lipkeras":
                return _json(200, self.repository.get(name, version).meta)
            return _json(200, self.repository.status(name, version))
        if request.method != "POST":
            raise ServingError(405, f"Malformed request: {request.method} {request.path} (use POST)")
        servable = self.repository.get(name, version)
        if verb == "predict":
            body = self._body(request)
            return _json(200, self._run(predict, servable, parse_json(body)))
        return self._transcribe(request, servable)

    def _transcribe(self, request: Request, servable) -> Response:
        emotion_name = request.args.get("emotion_model", DEFAULT_EMOTION_MODEL)
        emotion = None
        if emotion_name.lower() != "none":
            if emotion_name in self.repository.servables:
                emotion = self.repository.get(emotion_name)
            elif "emotion_model" in request.args:
                raise ServingError(404, f"Servable not found for request: Latest({emotion_name})")
        if request.mimetype == "multipart/form-data":
            files = list(request.files.values())
            if len(files) != 1:
                raise ServingError(400, f"multipart upload must hold exactly one file, got {len(files)}")
            data, filename = files[0].read(), files[0].filename or "upload.mp4"
        else:
            data = self._body(request)
            filename = request.args.get("filename", "upload.mp4")
        return _json(200, self._run(transcribe_bytes, data, filename, servable, emotion))
