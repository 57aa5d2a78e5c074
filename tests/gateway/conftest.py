"""Fixtures of the gateway tests: the streaming tests' harness and log capture, and IbSessions of the
client under test (`session_on`), each test once per IB client."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from possync.actors.gateway import load_client
from possync.actors.gateway._session import IbSession
from possync.simulator import Simulator
from tests.conftest import each_ib_client as _each
from tests.conftest import next_client_id
from tests.helpers import IB_CLIENTS, ib_client
from tests.streaming.conftest import log_lines, start_harness

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""Every test of this folder runs once per IB client library (ib_insync, ib_async)."""

__all__ = ["each_ib_client", "log_lines", "session_on", "start_harness"]


@pytest.fixture
def session_on() -> Iterator[Any]:
    """Connect IbSessions of the client under test to simulators (`session_on(sim, events, **kwargs)`,
    kwargs for IbSession, e.g. `silence_s`, `market_data_type`); closed after the test, threads gone."""
    sessions: list[IbSession] = []

    def connect(sim: Simulator, events: Any, **kwargs: Any) -> IbSession:
        client = load_client(ib_client())  # type: ignore[arg-type]
        session = IbSession(events.add, 45.0, name="test-ib-loop", client=client, **kwargs)
        sessions.append(session)
        session.connect(
            "127.0.0.1", sim.port, next_client_id(), timeout_s=5, account="", readonly=True, tries=1
        )
        return session

    yield connect
    for session in sessions:
        session.close()
    assert not [t for t in threading.enumerate() if t.name == "test-ib-loop"]
