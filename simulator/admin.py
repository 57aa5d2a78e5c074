"""The loopback admin endpoint: JSON over a minimal HTTP/1.1 server on the simulator's event loop.

GET /stats, GET /positions, GET /valuations, POST /drop, POST /error {"code": 1101},
POST /max-lines {"n": 50}, POST /position {"conid": 265598, "position": 0}, POST /pause, POST /resume; and
the market-data routes of `admin_md`: GET/POST /entitlements, GET/POST /market, GET/POST /clock,
POST /competing-session.
Bad input gets a 400 naming the problem; nothing a client sends can stop the simulator.
"""

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
from loguru import logger

from possync.simulator.admin_md import MD_ROUTES

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway

_REQUEST_TIMEOUT = 10.0
_MAX_BODY = 64 << 10
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    500: "Internal Server Error",
}


class ErrorBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /error: the code to send to every client and, optionally, the text."""

    code: Annotated[int, msgspec.Meta(ge=1)]
    message: str | None = None


class MaxLinesBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /max-lines: the new market-data line limit."""

    n: Annotated[int, msgspec.Meta(ge=0)]


class PositionBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /position: the new position of a conid (in `account`, needed when several hold it)."""

    conid: Annotated[int, msgspec.Meta(ge=1)]
    position: float
    account: str | None = None


S = TypeVar("S", bound=msgspec.Struct)


class AdminError(Exception):
    """A request the admin endpoint refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _decode(body: bytes, kind: type[S], example: str) -> S:
    """The JSON body as `kind`; AdminError 400 naming the problem and a valid example."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise AdminError(400, f"bad JSON body ({exc}); send e.g. {example}") from None


def _stats(gateway: "Gateway", _body: bytes) -> Any:
    """GET /stats."""
    return gateway.stats()


def _positions(gateway: "Gateway", _body: bytes) -> Any:
    """GET /positions."""
    return gateway.positions()


def _valuations(gateway: "Gateway", _body: bytes) -> Any:
    """GET /valuations: every open position's mark, value and P&L, as pnlSingle reports them."""
    return gateway.valuations()


def _drop(gateway: "Gateway", _body: bytes) -> Any:
    """POST /drop."""
    return {"dropped": gateway.drop_all()}


def _error(gateway: "Gateway", body: bytes) -> Any:
    """POST /error {"code": 1101, "message": optional text}."""
    request = _decode(body, ErrorBody, '{"code": 1101}')
    return {"code": request.code, "clients": gateway.send_error(request.code, request.message)}


def _max_lines(gateway: "Gateway", body: bytes) -> Any:
    """POST /max-lines {"n": 50}."""
    request = _decode(body, MaxLinesBody, '{"n": 50}')
    gateway.set_max_lines(request.n)
    return {"max_lines": request.n}


def _position(gateway: "Gateway", body: bytes) -> Any:
    """POST /position {"conid": 265598, "position": 100, "account": optional}."""
    request = _decode(body, PositionBody, '{"conid": 265598, "position": 100}')
    return gateway.set_position(request.conid, request.position, request.account)


def _pause(gateway: "Gateway", _body: bytes) -> Any:
    """POST /pause."""
    gateway.pause()
    return {"paused": gateway.paused}


def _resume(gateway: "Gateway", _body: bytes) -> Any:
    """POST /resume."""
    gateway.resume()
    return {"paused": gateway.paused}


ROUTES: dict[tuple[str, str], Callable[["Gateway", bytes], Any]] = {
    ("GET", "/stats"): _stats,
    ("GET", "/positions"): _positions,
    ("GET", "/valuations"): _valuations,
    ("POST", "/drop"): _drop,
    ("POST", "/error"): _error,
    ("POST", "/max-lines"): _max_lines,
    ("POST", "/position"): _position,
    ("POST", "/pause"): _pause,
    ("POST", "/resume"): _resume,
    **MD_ROUTES,
}
"""Every admin endpoint: (method, path) -> handler(gateway, body) returning what is sent back as JSON."""


async def start_admin(gateway: "Gateway", host: str, port: int) -> asyncio.Server:
    """Listen for admin requests on `host:port` (0 picks a free port)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_connection(gateway, reader, writer)
        except asyncio.CancelledError:
            writer.transport.abort()  # stop() cancels it; end quietly (see Gateway.accept)

    return await asyncio.start_server(serve, host, port)


async def _serve_connection(
    gateway: "Gateway", reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer one request and close the connection."""
    try:
        method, path, body = await asyncio.wait_for(_read_request(reader), _REQUEST_TIMEOUT)
        status, payload = 200, _route(gateway, method, path, body)
    except AdminError as exc:
        status, payload = exc.status, {"error": str(exc)}
    except TimeoutError:
        status, payload = 408, {"error": f"no complete request within {_REQUEST_TIMEOUT}s"}
    except (asyncio.IncompleteReadError, ValueError, ConnectionError) as exc:
        logger.info("admin: dropping a connection that sent no valid request: {}", exc)
        writer.transport.abort()
        return
    except Exception as exc:
        logger.exception("admin: request failed")
        status, payload = 500, {"error": f"the simulator failed: {exc!r}"}
    if status != 200:
        logger.info("admin: {} {}", status, payload["error"])
    body_bytes = msgspec.json.encode(payload)
    head = f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body_bytes)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + body_bytes)
    writer.close()


def _route(gateway: "Gateway", method: str, path: str, body: bytes) -> Any:
    """Run the route for `method path`; AdminError 404/405/400 for what cannot be done."""
    route = ROUTES.get((method, path))
    if route is None:
        allowed = [m for m, p in ROUTES if p == path]
        if allowed:
            raise AdminError(405, f"{method} {path} is not supported: use {' or '.join(allowed)} {path}")
        endpoints = ", ".join(f"{m} {p}" for m, p in ROUTES)
        raise AdminError(404, f"no endpoint {path!r}; the endpoints are: {endpoints}")
    try:
        result = route(gateway, body)
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    logger.info("admin: {} {}", method, path)
    return result


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    """Read the request line, the headers and a Content-Length body; AdminError 400 on a malformed one."""
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3 or not request_line[2].startswith("HTTP/"):
        raise AdminError(400, f"malformed request line {' '.join(request_line)[:80]!r}")
    method, target, _ = request_line
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            if not value.strip().isdigit() or int(value) > _MAX_BODY:
                raise AdminError(400, f"Content-Length {value.strip()!r} is not a size up to {_MAX_BODY}")
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return method.upper(), target.split("?", 1)[0], body
