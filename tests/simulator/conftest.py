"""Simulator tests run with both unmodified clients the service may use: ib_insync and ib_async.

`client` is parametrized over the two modules; `any_ib_factory` / `any_ib` connect an `IB` of that module.
Like ib_insync's (tests/conftest.py), ib_async's "Error handling fields" / "Error for" log lines fail a test.
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
    async_logger = logging.getLogger("ib_async")
    async_logger.addHandler(catcher)
    yield
    async_logger.removeHandler(catcher)
    assert not catcher.records, f"ib_async dropped malformed server messages: {catcher.records}"


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest) -> ModuleType:
    """The client library under test: ib_insync or ib_async (the same API)."""
    return CLIENTS[request.param]


@pytest.fixture
def any_ib_factory(client: ModuleType) -> Iterator[Callable[..., Any]]:
    """Connect `client.IB()`s (readonly, unique client ids) to simulators; disconnected after the test."""
    clients: list[Any] = []

    def connect(sim: Simulator, **kwargs: object) -> Any:
        ib = client.IB()
        clients.append(ib)
        kwargs.setdefault("timeout", 10)
        ib.connect("127.0.0.1", sim.port, clientId=next_client_id(), readonly=True, **kwargs)
        return ib

    yield connect
    for ib in clients:
        ib.disconnect()


@pytest.fixture
def any_ib(simulator: Simulator, any_ib_factory: Callable[..., Any]) -> Any:
    """A client of the parametrized library connected (readonly) to the `simulator` fixture."""
    return any_ib_factory(simulator)
