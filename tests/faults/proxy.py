"""A loopback TCP proxy in front of the simulated gateway that can slip malformed messages to the client.

Client → gateway bytes pass as they come. Gateway → client traffic is all framed (4-byte big-endian length,
then the payload), so the proxy forwards it frame by frame and `inject(payload)` sends one more frame
between two real ones -- a malformed message as a buggy or newer gateway could send it.
"""

import contextlib
import socket
import struct
import threading
from types import TracebackType

_LENGTH = struct.Struct(">I")


class GatewayProxy:
    """Listens on `port` (picked free) and forwards every connection to 127.0.0.1:`upstream`."""

    def __init__(self, upstream: int) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._clients: list[tuple[socket.socket, threading.Lock]] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def inject(self, payload: bytes) -> int:
        """Send one frame holding `payload` to every connected client; how many got it."""
        frame = _LENGTH.pack(len(payload)) + payload
        with self._lock:
            clients = list(self._clients)
        for client, sending in clients:
            with sending:
                client.sendall(frame)
        return len(clients)

    def close(self) -> None:
        """Stop listening, close every connection, join the threads."""
        self._listener.close()
        with self._lock:
            clients, self._clients = self._clients, []
        for client, _ in clients:
            client.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> "GatewayProxy":
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="gateway-proxy", daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream))
            sending = threading.Lock()
            with self._lock:
                self._clients.append((client, sending))
            self._spawn(_pipe, client, server)
            self._spawn(_frames, server, client, sending)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Client → gateway: bytes as they come, until either side closes."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source, sink)


def _frames(source: socket.socket, sink: socket.socket, sending: threading.Lock) -> None:
    """Gateway → client: whole frames only, so that an injected frame never splits a real one."""
    try:
        while (head := _read(source, _LENGTH.size)) is not None:
            payload = _read(source, _LENGTH.unpack(head)[0])
            if payload is None:
                return
            with sending:
                sink.sendall(head + payload)
    except OSError:
        pass
    finally:
        _close(source, sink)


def _read(source: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = source.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
