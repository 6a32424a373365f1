"""``lipkeras serve``: the REST app on Waitress (a production WSGI server: a thread pool,
request-size limits, idle-connection timeouts), one log line per request, clean stop on SIGTERM."""

from __future__ import annotations

import gc
import logging
import signal
import sys

from lipkeras.serve.app import ServingApp
from lipkeras.serve.repository import ModelRepository

log = logging.getLogger("lipkeras.serve")


def _stop(signum, frame):
    raise SystemExit(0)  # Waitress' run loop catches it and shuts its task threads down


def serve(model_base_path: str = "saved_models", host: str = "127.0.0.1", port: int = 8501, threads: int = 8,
          max_body_mb: float = 64.0, request_timeout: float = 120.0, versions: str = "latest",
          models: list[str] | None = None) -> int:
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" chatter under load
    repository = ModelRepository(model_base_path, versions=versions, names=models)
    if not repository.names():
        log.error("%s: no SavedModel found (expected NAME/VERSION/saved_model.pb; run lipkeras export)",
                  model_base_path)
        return 1
    # The loaded graphs are millions of long-lived Python objects: freeze them out of the cyclic
    # GC, whose full collections otherwise stall a request by ~150 ms every few dozen requests.
    gc.collect()
    gc.freeze()
    max_body = int(max_body_mb * (1 << 20))
    app = ServingApp(repository, max_body_bytes=max_body, request_timeout=request_timeout, workers=threads)
    # Waitress refuses bodies over its own limit before reading them; the app answers JSON 413s
    # up to twice the limit, so clients normally see TF Serving-style errors.
    server = waitress.create_server(app, host=host, port=port, threads=threads, max_request_body_size=2 * max_body,
                                    channel_timeout=max(30, int(request_timeout)), ident="lipkeras")
    signal.signal(signal.SIGTERM, _stop)
    print(f"lipkeras serve: listening on http://{host}:{server.effective_port} "
          f"(models: {', '.join(f'{n} v{max(repository.servables[n])}' for n in repository.names())})", flush=True)
    try:
        server.run()
    finally:
        server.close()
        app.close()
        log.info("stopped")
    return 0
