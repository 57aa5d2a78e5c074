"""Fixtures of the simulator tests: every test runs once per unmodified client, ib_insync 0.9.86 and
ib_async 2.1.0 (`each_ib_client`, autouse). `client` is that client's module; `connect(sim)` connects one
of its `IB`s (readonly, a unique client id), disconnected after the test. The suite-wide guard fails a
test in which either client dropped a message it could not parse.
"""

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.conftest import each_ib_client as _each
from tests.conftest import next_client_id
from tests.helpers import IB_CLIENTS, ib_module

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""Every test of this folder runs once per IB client library (ib_insync, ib_async)."""


@pytest.fixture
def client() -> ModuleType:
    """The client module under test: ib_insync or ib_async (the one `each_ib_client` set)."""
    return ib_module()


@pytest.fixture
def connect(client: ModuleType) -> Iterator[Callable[..., Any]]:
    """Connect `client.IB`s to simulators (readonly, unique client ids); disconnected after the test."""
    clients: list[Any] = []

    def start(sim: Simulator, **kwargs: Any) -> Any:
        ib = client.IB()
        clients.append(ib)
        kwargs.setdefault("timeout", 10)
        ib.connect("127.0.0.1", sim.port, clientId=next_client_id(), readonly=True, **kwargs)
        return ib

    yield start
    for ib in clients:
        ib.disconnect()
