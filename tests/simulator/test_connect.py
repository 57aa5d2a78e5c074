"""Connecting each unmodified client: handshake, accounts, client ids, restart and clean stop."""

import contextlib
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from possync.simulator import Simulator, SimulatorConfig
from tests.conftest import TEST_SIMULATOR, next_client_id
from tests.helpers import ib_module, wait_until
from tests.simulator.support import RawClient, barrier, ib_wait

Connect = Callable[..., Any]


def _errors(ib: Any) -> list[tuple[int, int]]:
    """Start recording (reqId, code) of every error/notice `ib` receives."""
    seen: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: seen.append((req_id, code))
    return seen


def test_readonly_connect_gets_accounts_positions_and_the_farm_notices(
    simulator: Simulator, ib_factory: Connect
) -> None:
    ib = ib_module().IB()
    notices = _errors(ib)
    ib_factory(simulator, ib=ib)
    assert ib.isConnected()
    assert ib.managedAccounts() == list(simulator.accounts)
    assert len(ib.positions()) == simulator.config.positions
    assert {(-1, 2104), (-1, 2106), (-1, 2158)} <= set(notices)
    assert simulator.stats().clients == 1


def test_connect_with_two_accounts_and_order_requests(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect
):
    sim = simulator_factory(accounts=("DU111", "DU222"), positions=4)
    ib = ib_factory(sim, readonly=False)
    assert ib.managedAccounts() == ["DU111", "DU222"]
    assert {p.account for p in ib.positions()} == {"DU111", "DU222"}
    assert len(ib.positions()) == 8
    requests = sim.stats().requests
    assert requests[5] == 1 and requests[99] == 1  # open and completed orders were asked and answered
    assert requests[76] == 2  # one account-updates-multi per account


def test_a_second_connection_with_a_client_id_in_use_gets_326_and_is_closed(
    simulator: Simulator, ib_factory: Connect
) -> None:
    first = ib_factory(simulator)
    client_id = first.client.clientId
    intruder = ib_module().IB()
    errors = _errors(intruder)
    with pytest.raises((TimeoutError, ConnectionError)):
        ib_factory(simulator, client_id=client_id, ib=intruder, timeout=2)
    assert (-1, 326) in errors
    wait_until(lambda: simulator.stats().sockets == 1, message="the intruder's socket was closed")
    barrier(first)  # the first client is untouched
    assert simulator.stats().client_ids == [client_id]


def test_a_client_id_is_free_again_once_its_client_disconnected(
    simulator: Simulator, ib_factory: Connect
) -> None:
    client_id = next_client_id()
    ib = ib_factory(simulator, client_id=client_id)
    ib.disconnect()
    wait_until(lambda: simulator.stats().clients == 0)
    ib.connect("127.0.0.1", simulator.port, clientId=client_id, readonly=True, timeout=10)
    assert ib.isConnected()


def test_restart_disconnects_clients_and_serves_the_same_portfolio_on_the_same_port(
    simulator: Simulator, ib_factory: Connect
) -> None:
    ib = ib_factory(simulator)
    disconnected = []
    ib.disconnectedEvent += lambda: disconnected.append(True)
    conid = ib.positions()[0].contract.conId
    client_id = ib.client.clientId
    simulator.set_position(conid, 4242)
    before = simulator.positions()
    port = simulator.port

    assert simulator.restart() == port
    ib_wait(ib, lambda: disconnected, message="disconnectedEvent after the restart")
    ib.connect("127.0.0.1", port, clientId=client_id, readonly=True, timeout=10)
    assert simulator.positions() == before
    assert {p.contract.conId: p.position for p in ib.positions()}[conid] == 4242


def _loop_threads() -> list[threading.Thread]:
    """The simulators' event-loop threads alive now."""
    return [t for t in threading.enumerate() if t.name == "simulator-loop"]


def _open_sockets() -> int:
    """How many sockets this process has open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # listdir's own descriptor is gone by now
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def test_stop_leaves_no_thread_and_no_socket() -> None:
    sockets_before = _open_sockets()
    sim = Simulator(SimulatorConfig(**TEST_SIMULATOR))
    port = sim.start()
    client = RawClient(port)
    client.start(next_client_id())
    sim.stop()
    assert client.closed_by_peer()
    client.close()
    assert not _loop_threads()
    assert _open_sockets() == sockets_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    sim.stop()  # a second stop is a no-op


def test_a_taken_port_fails_start_naming_it_and_leaves_no_thread(simulator: Simulator) -> None:
    loops = _loop_threads()
    with pytest.raises(OSError, match=f"127.0.0.1:{simulator.port}"):
        Simulator(SimulatorConfig(port=simulator.port)).start()
    assert _loop_threads() == loops


def test_the_simulator_is_a_context_manager() -> None:
    with Simulator(SimulatorConfig(positions=2)) as sim:
        client = RawClient(sim.port)
        assert client.start(next_client_id())[-1][0] == "9"
    assert client.closed_by_peer() and not sim.running
    client.close()
