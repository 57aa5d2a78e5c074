"""Connecting: the next client id when one is in use (326), and a clear message when nobody listens."""

import socket
from collections.abc import Callable
from typing import Any

import pytest

from possync.actors.gateway._connect import ClientIdInUse, GatewayUnreachable
from possync.actors.gateway._session import IbSession
from possync.simulator import Simulator
from tests.conftest import next_client_id
from tests.streaming.support import Harness


@pytest.mark.timeout(60)
def test_a_client_id_in_use_makes_it_try_the_next(
    start_harness: Callable[..., Harness],
    simulator: Simulator,
    ib_factory: Callable[..., Any],
) -> None:
    taken = next_client_id()
    next_client_id()  # keep taken + 1 free for the connection
    ib_factory(simulator, client_id=taken)

    harness = start_harness(active_count=2, on=simulator, ib={"client_id": taken})

    harness.wait_streaming(set(harness.active))
    assert harness.connection().client_id == taken + 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.timeout(30)
def test_nobody_listening_says_where_it_tried_and_what_to_check() -> None:
    session = IbSession(lambda message: None, pacing_per_s=45.0)
    port = _free_port()
    try:
        with pytest.raises(GatewayUnreachable) as failure:
            session.connect("127.0.0.1", port, 1, timeout_s=2.0, account="", readonly=True, tries=3)
    finally:
        session.close()
    text = str(failure.value)
    assert f"127.0.0.1:{port}" in text
    assert "is the Gateway (or TWS) running" in text and "API enabled" in text
    assert f"is {port} its API port" in text


@pytest.mark.timeout(30)
def test_every_client_id_in_use_is_a_clear_error(
    simulator: Simulator, ib_factory: Callable[..., Any]
) -> None:
    first = next_client_id()
    next_client_id()
    ib_factory(simulator, client_id=first)
    ib_factory(simulator, client_id=first + 1)
    session = IbSession(lambda message: None, pacing_per_s=45.0)
    try:
        with pytest.raises(ClientIdInUse, match=rf"client ids {first}..{first + 1} are all in use"):
            session.connect(
                "127.0.0.1", simulator.port, first, timeout_s=5.0, account="", readonly=True, tries=2
            )
    finally:
        session.close()
