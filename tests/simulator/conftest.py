"""Fixtures to run a behaviour with both unmodified clients: ib_insync 0.9.86 and ib_async 2.1.0.

`client` is the client module (parametrized over both); `connect(sim)` connects one of its `IB`s
(readonly, a unique client id), disconnected after the test. Like the suite-wide guard for ib_insync,
a message ib_async could not parse ("Error handling fields") fails the test.
"""

import logging
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import ib_async  # (must first be imported in the main thread, like ib_insync)
import ib_insync
import pytest
from possync.simulator import Simulator

from tests.conftest import _FieldErrorCatcher, next_client_id

CLIENTS: dict[str, ModuleType] = {"ib_insync": ib_insync, "ib_async": ib_async}


@pytest.fixture(autouse=True)
def fail_on_dropped_ib_async_messages() -> Iterator[None]:
    """A server message ib_async could not parse fails the test instead of timing it out."""
    catcher = _FieldErrorCatcher()
    ib_logger = logging.getLogger("ib_async")
    ib_logger.addHandler(catcher)
    yield
    ib_logger.removeHandler(catcher)
    assert not catcher.records, f"ib_async dropped malformed server messages: {catcher.records}"


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> ModuleType:
    """The client module under test: ib_insync or ib_async."""
    return CLIENTS[request.param]


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
