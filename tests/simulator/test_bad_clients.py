"""A client that breaks the protocol, half-closes or vanishes is dropped; the other clients never notice."""

import socket
import struct
from typing import Any

import pytest

from possync.simulator import Simulator
from possync.simulator.wire import GREETING, frame, frame_text
from tests.conftest import next_client_id
from tests.helpers import ib_module, wait_until
from tests.simulator.mdsupport import contract
from tests.simulator.support import RawClient, barrier, ib_wait
from tests.simulator.test_market_data import _updates

_HANDSHAKE = GREETING + frame_text("v157..176")


def _assert_unharmed(simulator: Simulator, ib: Any) -> None:
    """`ib` still gets answers and ticks from `simulator`."""
    barrier(ib)
    updates = _updates(ib.reqMktData(contract(ib_module(), "AAPL")))
    ib_wait(ib, lambda: len(updates) >= 3, message="the good client still streams")


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\x00\xff\x13garbage that is not the TWS API" * 4, id="random-bytes"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
        pytest.param(GREETING + frame_text("v100..151"), id="versions-too-old"),
        pytest.param(_HANDSHAKE + frame(61, 1), id="request-before-startApi"),
        pytest.param(_HANDSHAKE + struct.pack(">I", 1 << 30), id="huge-frame-length"),
        pytest.param(_HANDSHAKE + struct.pack(">I", 3) + b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(_HANDSHAKE + frame("x71", 2, 1, ""), id="message-id-not-a-number"),
        pytest.param(_HANDSHAKE + frame(71, 2, "one", ""), id="client-id-not-a-number"),
    ],
)
def test_garbage_drops_that_client_only(simulator: Simulator, ib: Any, garbage: bytes) -> None:
    bad = RawClient(simulator.port)
    bad.send_raw(garbage)
    assert bad.closed_by_peer()
    bad.close()
    wait_until(lambda: simulator.stats().bad_clients == 1, message="counted as a bad client")
    _assert_unharmed(simulator, ib)


def test_a_known_request_with_unreadable_fields_drops_that_client(simulator: Simulator, ib: Any) -> None:
    bad = RawClient(simulator.port)
    bad.start(next_client_id())
    bad.send(1, 11, 7, 265598)  # reqMktData cut short: no contract
    assert bad.closed_by_peer()
    bad.close()
    assert simulator.stats().bad_clients == 1
    _assert_unharmed(simulator, ib)


def test_an_unknown_request_is_ignored_and_the_client_served_on(simulator: Simulator) -> None:
    client = RawClient(simulator.port)
    client.start(next_client_id())
    client.send(9999, 1, "whatever")
    client.send(49, 1)
    assert client.read_until(lambda fields: fields[0] == "49")[0] == "49"
    assert simulator.stats().bad_clients == 0
    client.close()


def test_a_half_closed_client_is_dropped_and_its_lines_released(simulator: Simulator, ib: Any) -> None:
    client = RawClient(simulator.port)
    client.start(next_client_id())
    client.subscribe(req_id=1, conid=265598)
    wait_until(lambda: simulator.stats().subscriptions == 1)
    client.sock.shutdown(socket.SHUT_WR)
    wait_until(lambda: simulator.stats().subscriptions == 0, message="the half-closed client's line is freed")
    assert client.closed_by_peer()
    client.close()
    assert simulator.stats().clients == 1  # only `ib`
    _assert_unharmed(simulator, ib)


def test_a_client_vanishing_mid_stream_releases_its_lines(simulator: Simulator, ib: Any) -> None:
    client = RawClient(simulator.port)
    client.start(next_client_id())
    for req_id, conid in enumerate((265598, 272093, 8314), start=1):
        client.subscribe(req_id, conid)
    client.read_until(lambda fields: fields[0] == "1" and fields[2] == "3")  # ticks are flowing
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # with linger 0: a reset, as when a process dies
    wait_until(lambda: simulator.stats().subscriptions == 0, message="the vanished client's lines are freed")
    wait_until(lambda: simulator.stats().sockets == 1)
    _assert_unharmed(simulator, ib)


def test_a_client_that_connects_and_leaves_without_a_word_is_harmless(simulator: Simulator, ib: Any) -> None:
    RawClient(simulator.port).close()
    wait_until(lambda: simulator.stats().sockets == 1 and simulator.stats().connections == 2)
    assert simulator.stats().bad_clients == 0
    _assert_unharmed(simulator, ib)
