"""Suite-wide guards and fixtures.

Guards: fail any test in which the IB client silently dropped a malformed server message.
Fixtures: `simulator` / `simulator_factory` start in-process simulated gateways (stopped after the
test); `ib` / `ib_factory` connect unmodified IB clients (`tests.helpers.ib_module()`) to them with unique
client ids; `each_ib_client` (autouse in the gateway-facing test folders) runs a test once per client.
"""

import itertools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ib_async  # noqa: F401  (both clients: imported first, in the main thread)
import ib_insync  # noqa: F401
import pytest

from possync.simulator import Simulator, SimulatorConfig
from tests.helpers import IB_CLIENTS, captured_log, ib_module, using_ib_client

_DROPPED_MESSAGE_LOGS = ("Error handling fields", "Error for ")
"""What ib_insync and ib_async log when a server message has the wrong fields: the decoder failed, or the
wrapper method it fed raised (too few fields)."""

TEST_SIMULATOR = {"positions": 10, "tick_hz": 20.0, "snapshot_hold": 0.2, "admin_port": 0}
"""Simulator settings for tests: small portfolio, fast ticks, short snapshots, admin endpoint on."""

_client_ids = itertools.count(1)


def next_client_id() -> int:
    """A client id no other connection of this test session has used."""
    return next(_client_ids)


class _FieldErrorCatcher(logging.Handler):
    """Collects the IB clients' log lines about a server message they could not handle."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith(_DROPPED_MESSAGE_LOGS):
            self.records.append(text)


@pytest.fixture(autouse=True)
def fail_on_dropped_ib_messages():
    """A server message an IB client could not parse fails the test instead of timing it out."""
    catcher = _FieldErrorCatcher()
    loggers = [logging.getLogger(name) for name in IB_CLIENTS]
    for ib_logger in loggers:
        ib_logger.addHandler(catcher)
    yield
    for ib_logger in loggers:
        ib_logger.removeHandler(catcher)
    assert not catcher.records, f"the IB client dropped malformed server messages: {catcher.records}"


def one_ib_client() -> Iterator[str]:
    """For a module of a per-client folder whose tests are not about the IB client (the CLI's input, the
    lake, processes, logs): its tests run once, with the default client."""
    with using_ib_client(IB_CLIENTS[0]) as name:
        yield name


def each_ib_client(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per IB client library (made an autouse fixture by the gateway-facing folders)."""
    with using_ib_client(request.param) as name:
        yield name


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with `TEST_SIMULATOR` settings plus overrides; every one is stopped after the test."""
    started: list[Simulator] = []

    def start(**overrides: object) -> Simulator:
        sim = Simulator(SimulatorConfig(**{**TEST_SIMULATOR, **overrides}))  # type: ignore[arg-type]
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A running simulator with the test settings (one account, 10 positions, admin endpoint on)."""
    return simulator_factory()


@pytest.fixture
def ib_factory(simulator_factory: Callable[..., Simulator]) -> Iterator[Callable[..., Any]]:
    """Connect IB clients (readonly, unique client ids unless given); disconnected after the test."""
    clients: list[Any] = []

    def connect(
        sim: Simulator,
        client_id: int | None = None,
        readonly: bool = True,
        ib: Any | None = None,
        **kwargs: object,
    ) -> Any:
        """Connect `ib` (a fresh IB when None, else one the test prepared, e.g. with handlers)."""
        ib = ib or ib_module().IB()
        clients.append(ib)
        client_id = next_client_id() if client_id is None else client_id
        kwargs.setdefault("timeout", 10)
        ib.connect("127.0.0.1", sim.port, clientId=client_id, readonly=readonly, **kwargs)  # type: ignore[arg-type]
        return ib

    yield connect
    for ib in clients:
        ib.disconnect()


@pytest.fixture
def ib(simulator: Simulator, ib_factory: Callable[..., Any]) -> Any:
    """An IB client (`tests.helpers.ib_client()`) connected (readonly) to the `simulator` fixture."""
    return ib_factory(simulator)


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    """An empty lake root directory (the lake tests have their own: not created)."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    """The text of every WARNING-or-worse line our actors log during the test."""
    with captured_log("WARNING") as lines:
        yield lines
