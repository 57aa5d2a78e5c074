"""Test tools for the simulator: waiting while the IB client's loop runs, a raw client, admin HTTP calls."""

import contextlib
import json
import socket
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from possync.simulator import Simulator
from possync.simulator.wire import GREETING, Field, frame, frame_text, split_fields
from tests.helpers import wait_until

T = TypeVar("T")


def ib_wait(ib: Any, condition: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    """`wait_until` that keeps the IB's event loop running between polls, so its events fire."""

    def pumped() -> T:
        with contextlib.suppress(
            ConnectionError
        ):  # a disconnect interrupts ib.sleep: an event, not a failure
            ib.sleep(0.005)
        return condition()

    return wait_until(pumped, timeout, interval=0, message=message)


def barrier(ib: Any) -> None:
    """A round trip: everything the simulator sent before answering has been handled by `ib` after it."""
    ib.reqCurrentTime()


class RawClient:
    """A blocking TCP client speaking (or deliberately breaking) the TWS wire protocol."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def send(self, *fields: Field) -> None:
        """Send one framed message."""
        self.sock.sendall(frame(*fields))

    def start(self, client_id: int) -> list[list[str]]:
        """Handshake and startApi; return the messages up to and including nextValidId."""
        self.send_raw(GREETING + frame_text("v157..176"))
        messages = [self.read()]
        self.send(71, 2, client_id, "")
        messages.append(self.read_until(lambda fields: fields[0] == "9"))
        return messages

    def subscribe(self, req_id: int, conid: int, snapshot: bool = False) -> None:
        """reqMktData for a contract given by conid on SMART, as ib_insync would send it."""
        contract = (conid, "", "", "", 0.0, "", "", "SMART", "", "", "", "")
        self.send(1, 11, req_id, *contract, False, "", snapshot, False, "")

    def read(self) -> list[str]:
        """The next message's fields (the socket timeout is the deadline)."""
        while len(self._buffer) < 4 or len(self._buffer) < 4 + struct.unpack(">I", self._buffer[:4])[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the simulator closed the connection")
            self._buffer += chunk
        length = struct.unpack(">I", self._buffer[:4])[0]
        payload, self._buffer = self._buffer[4 : 4 + length], self._buffer[4 + length :]
        if payload.endswith(b"\0"):
            return split_fields(payload)
        return payload.decode().split("\0")  # the handshake reply has no terminator

    def read_until(self, wanted: Callable[[list[str]], bool]) -> list[str]:
        """Skip messages until one satisfies `wanted` and return it."""
        while not wanted(fields := self.read()):
            pass
        return fields

    def closed_by_peer(self) -> bool:
        """Read and discard until the simulator closes the connection (EOF or reset): True then."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def admin(
    target: Simulator | int, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    """Call the admin endpoint of a simulator (or on a port); return (HTTP status, decoded JSON)."""
    port = target.admin_port if isinstance(target, Simulator) else target
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
