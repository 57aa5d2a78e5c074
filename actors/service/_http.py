"""The loopback HTTP endpoint: `GET /` (the live status page), `GET /health`, `GET /status` (JSON),
`GET /history` (the last 15 minutes' samples, JSON), `GET /metrics` (Prometheus text), and `POST /faults`
(fault injection, `possync.actors.service.fault_handler`) when it is given a fault handler.

It serves from a daemon thread and only calls the functions it is given, so it never blocks an actor:
`status()` returns the status document, `health()` the list of reasons the service is degraded (empty: ok),
`history()` the samples for the page's sparklines, `faults(body)` applies a fault request and returns the
reply (ValueError: a 400 naming the problem). Nothing served by GET changes any state.
"""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import msgspec
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

PAGE = "status_page.html"
"""The status page (HTML, CSS and script in one file, package data of this package): no CDN, works offline."""
_HTML = "text/html; charset=utf-8"
_NO_STORE = {"Cache-Control": "no-store"}
_PAGE_HEADERS = {
    **_NO_STORE,
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    ),
}


class StatusEndpoint:
    """An HTTP server on `host:port` (port 0 picks a free one) answering /, /health, /status, /history and
    /metrics (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        status: Callable[[], Any],
        health: Callable[[], list[str]],
        metrics: Callable[[], bytes],
        faults: Callable[[bytes], Any] | None = None,
        history: Callable[[], Any] | None = None,
    ) -> None:
        page = page_html()
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/": lambda: (200, _HTML, page),
            "/health": lambda: _health_response(health()),
            "/status": lambda: (200, "application/json", msgspec.json.encode(status())),
            "/history": lambda: _history_response(history),
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, metrics()),
        }
        posts: dict[str, Callable[[bytes], tuple[int, str, bytes]]] = {
            "/faults": lambda body: _fault_response(faults, body)
        }
        self._server = ThreadingHTTPServer((host, port), _handler_for(routes, posts))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="possync-http", daemon=True)

    @property
    def port(self) -> int:
        """The port the endpoint listens on."""
        return self._server.server_address[1]

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread.start()
        logger.info("status endpoint on http://{}:{}/status", *self._server.server_address[:2])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


def _extra_headers(content_type: str) -> dict[str, str]:
    """Nothing is cached; the page may fetch from this endpoint only (its content security policy)."""
    return _PAGE_HEADERS if content_type == _HTML else _NO_STORE


def page_html() -> bytes:
    """The status page, as served at `/`."""
    return files("possync.actors.service").joinpath(PAGE).read_bytes()


def _history_response(history: Callable[[], Any] | None) -> tuple[int, str, bytes]:
    if history is None:
        return 404, "application/json", b'{"error": "this endpoint keeps no history"}'
    return 200, "application/json", msgspec.json.encode(history())


def _health_response(reasons: list[str]) -> tuple[int, str, bytes]:
    body: dict[str, Any] = {"status": "degraded", "reasons": reasons} if reasons else {"status": "ok"}
    return (503 if reasons else 200), "application/json", msgspec.json.encode(body)


def _fault_response(faults: Callable[[bytes], Any] | None, body: bytes) -> tuple[int, str, bytes]:
    if faults is None:
        error = "fault injection is off: set http.faults = true (POSSYNC_HTTP_FAULTS=true) to allow it"
        return 403, "application/json", msgspec.json.encode({"error": error})
    try:
        reply = faults(body)
    except ValueError as error:
        return 400, "application/json", msgspec.json.encode({"error": str(error)})
    logger.warning("fault injected over HTTP: {}", reply)
    return 200, "application/json", msgspec.json.encode(reply)


_MAX_BODY = 64 << 10


def _handler_for(
    routes: dict[str, Callable[[], tuple[int, str, bytes]]],
    posts: dict[str, Callable[[bytes], tuple[int, str, bytes]]],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                error = b'{"error": "unknown path; try /, /health, /status, /history, /metrics"}'
                self._reply(404, "application/json", error)
                return
            self._answer(route)

        def do_POST(self) -> None:
            route = posts.get(self.path.split("?", 1)[0])
            if route is None:
                self._reply(404, "application/json", b'{"error": "unknown path; POST only to /faults"}')
                return
            length = self.headers.get("Content-Length", "0")
            if not length.isdigit() or int(length) > _MAX_BODY:
                body = {"error": f"Content-Length {length!r} is not a size up to {_MAX_BODY}"}
                self._reply(400, "application/json", msgspec.json.encode(body))
                return
            body = self.rfile.read(int(length))
            self._answer(lambda: route(body))

        def _answer(self, route: Callable[[], tuple[int, str, bytes]]) -> None:
            try:
                self._reply(*route())
            except Exception as error:  # a status source failed: say so, keep serving
                logger.warning("{} failed: {!r}", self.path, error)
                self._reply(500, "application/json", msgspec.json.encode({"error": repr(error)}))

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in _extra_headers(content_type).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            logger.trace("http: " + format, *args)

    return Handler
