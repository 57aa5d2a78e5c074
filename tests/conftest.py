"""Suite-wide guards and fixtures.

Guards: fail any test in which ib_insync silently dropped a malformed server message.
Fixtures: `simulator` / `simulator_factory` start in-process simulated gateways (stopped after the
test); `ib` / `ib_factory` connect unmodified ib_insync clients to them with unique client ids.
"""

import itertools
import logging
from collections.abc import Callable, Iterator

import ib_insync  # (must first be imported in the main thread)
import pytest
from possync.simulator import Simulator, SimulatorConfig

_DROPPED_MESSAGE_LOGS = ("Error handling fields", "Error for ")
"""What ib_insync logs when a server message has the wrong fields: the decoder failed, or the wrapper
method it fed raised (too few fields)."""

TEST_SIMULATOR = {"positions": 10, "tick_hz": 20.0, "snapshot_hold": 0.2, "admin_port": 0}
"""Simulator settings for tests: small portfolio, fast ticks, short snapshots, admin endpoint on."""

_client_ids = itertools.count(1)


def next_client_id() -> int:
    """A client id no other connection of this test session has used."""
    return next(_client_ids)


class _FieldErrorCatcher(logging.Handler):
    """Collects ib_insync's log lines about a server message it could not handle."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith(_DROPPED_MESSAGE_LOGS):
            self.records.append(text)


@pytest.fixture(autouse=True)
def fail_on_dropped_ib_messages():
    """A server message ib_insync could not parse fails the test instead of timing it out."""
    catcher = _FieldErrorCatcher()
    ib_logger = logging.getLogger("ib_insync")
    ib_logger.addHandler(catcher)
    yield
    ib_logger.removeHandler(catcher)
    assert not catcher.records, f"ib_insync dropped malformed server messages: {catcher.records}"


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
def ib_factory(simulator_factory: Callable[..., Simulator]) -> Iterator[Callable[..., ib_insync.IB]]:
    """Connect ib_insync clients (readonly, unique client ids unless given); disconnected after the test."""
    clients: list[ib_insync.IB] = []

    def connect(
        sim: Simulator,
        client_id: int | None = None,
        readonly: bool = True,
        ib: ib_insync.IB | None = None,
        **kwargs: object,
    ) -> ib_insync.IB:
        """Connect `ib` (a fresh IB when None, else one the test prepared, e.g. with handlers)."""
        ib = ib or ib_insync.IB()
        clients.append(ib)
        client_id = next_client_id() if client_id is None else client_id
        kwargs.setdefault("timeout", 10)
        ib.connect("127.0.0.1", sim.port, clientId=client_id, readonly=readonly, **kwargs)  # type: ignore[arg-type]
        return ib

    yield connect
    for ib in clients:
        ib.disconnect()


@pytest.fixture
def ib(simulator: Simulator, ib_factory: Callable[..., ib_insync.IB]) -> ib_insync.IB:
    """An ib_insync client connected (readonly) to the `simulator` fixture."""
    return ib_factory(simulator)
