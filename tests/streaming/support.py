"""The streaming half under test: the real session subtree against the simulator, with stand-ins around it.

`Harness` runs a SupervisionTree of recorders standing in for the LAKE_WRITER and the QUEUE, a small
REGISTRY holding the active set, and the real session subtree (connection, allocator, streams) connected
over TCP to a simulated gateway. It offers what the tests look at: the gateway's stats, the allocator's
and the connection's status, the streams, the recorded messages, and `LineSampler` to watch the
gateway's line count continuously.
"""

import threading
import time
from typing import Any

import msgspec
import pykka

from possync.actors.names import (
    CONNECTION,
    LAKE_WRITER,
    QUEUE,
    REGISTRY,
    SLOT_ALLOCATOR,
    STREAMS,
    stream_name,
)
from possync.actors.streaming._handlers import StreamHandlers
from possync.actors.tree import session_spec
from possync.config.settings import IbSettings, Settings, SlotSettings, StreamSettings, SupervisionSettings
from possync.messages.connection import ConnectionStatus, GetConnectionStatus
from possync.messages.domain import Contract, Observation
from possync.messages.lake import WriteRows
from possync.messages.routing import (
    ActiveContract,
    ActiveContracts,
    ContractActivated,
    ContractDeactivated,
    Dequeue,
    Enqueue,
    PositionChanged,
    SendActiveContracts,
)
from possync.messages.slots import GetSlotStatus, SlotStatus
from possync.messages.streams import GetStreamStatus, StreamStatus
from possync.simulator import Simulator
from possync.supervisors import (
    ChildSpec,
    ChildState,
    ChildStatus,
    SupervisedActor,
    SupervisionTree,
    SupervisorSpec,
)
from tests.conftest import next_client_id
from tests.helpers import ib_client, wait_until

ASK_S = 10.0
WAIT_S = 30.0


class Recording:
    """Messages received by a stand-in, kept across its restarts; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Any] = []

    def add(self, message: Any) -> None:
        with self._lock:
            self._messages.append(message)

    def all(self, kind: type | tuple[type, ...] = object) -> list[Any]:
        with self._lock:
            return [m for m in self._messages if isinstance(m, kind)]


class Recorder(SupervisedActor):
    """A stand-in that records every message told to it."""

    def __init__(self, ctx: Any, recording: Recording) -> None:
        super().__init__(ctx)
        self._recording = recording

    def on_receive(self, message: Any) -> None:
        self._recording.add(message)


class FakeRegistry(SupervisedActor):
    """The registry's side of the routing contract: answers SendActiveContracts with the full set."""

    def __init__(self, ctx: Any, active: dict[int, ActiveContract]) -> None:
        super().__init__(ctx)
        self._active = active

    def on_receive(self, message: Any) -> None:
        if isinstance(message, SendActiveContracts):
            ref = self.ctx.tree.whereis(STREAMS)
            if ref is not None:
                ref.tell(ActiveContracts(tuple(self._active.values())))


def settings_for(sim: Simulator, **sections: Any) -> Settings:
    """Test settings: this simulator, a fresh client id, short timeouts and backoffs; override by section."""
    defaults: dict[str, Any] = {
        "ib": IbSettings(
            port=sim.port,
            client_id=next_client_id(),
            connect_timeout_s=5.0,
            lost_grace_s=30.0,
            client=ib_client(),  # type: ignore[arg-type]
        ),
        "slots": SlotSettings(budget=100, regrow_s=0.5, reconcile_s=0.5),
        "streams": StreamSettings(silent_after_s=30.0, min_row_interval_s=0.0),  # every change a row
        "supervision": SupervisionSettings(intensity=20, period_s=10, backoff_min_s=0.05, backoff_max_s=0.5),
    }
    for section, changes in sections.items():
        defaults[section] = msgspec.structs.replace(defaults[section], **changes)
    return Settings(**defaults)


def active(position: Any, priority: int = 5) -> ActiveContract:
    """An ActiveContract for one of the simulator's positions."""
    contract = Contract(position.conid, position.symbol, position.sec_type, position.expiry, position.strike)
    return ActiveContract(contract, "test", priority)


class Harness:
    """The session subtree and its stand-ins around one simulator (see the module docstring)."""

    def __init__(self, sim: Simulator, settings: Settings, actives: list[ActiveContract]) -> None:
        self.sim = sim
        self.settings = settings
        self.queue = Recording()
        self.lake = Recording()
        self.observed = Recording()
        self.handlers = StreamHandlers()
        self.handlers.add(self.observed.add)
        self.active = {a.contract.conid: a for a in actives}
        root = SupervisorSpec(
            "test-app",
            children=(
                ChildSpec(LAKE_WRITER, Recorder, args=(self.lake,)),
                ChildSpec(REGISTRY, FakeRegistry, args=(self.active,)),
                ChildSpec(QUEUE, Recorder, args=(self.queue,)),
                session_spec(settings, self.handlers),
            ),
            intensity=1000,
        )
        self.tree = SupervisionTree(root, seed=7)

    # --- the registry ---

    def activate(self, contract: ActiveContract) -> None:
        self.active[contract.contract.conid] = contract
        self._tell(STREAMS, ContractActivated(contract))

    def deactivate(self, conid: int) -> None:
        del self.active[conid]
        self._tell(STREAMS, ContractDeactivated(conid))

    # --- what the tests look at ---

    def lines(self) -> int:
        """Market-data lines the gateway holds for us now."""
        return self.sim.stats().subscriptions

    def slots(self) -> SlotStatus:
        return self._ask(SLOT_ALLOCATOR, GetSlotStatus())

    def connection(self) -> ConnectionStatus:
        return self._ask(CONNECTION, GetConnectionStatus())

    def stream(self, conid: int) -> StreamStatus:
        return self._ask(stream_name(conid), GetStreamStatus())

    def incarnation(self, name: str) -> int:
        """The incarnation number of a running actor of the tree (0 if not running)."""
        node = _find(self.tree.snapshot(), name)
        return node.incarnation if node is not None and node.state is ChildState.RUNNING else 0

    def streaming(self) -> set[int] | None:
        """Conids holding a line, once allocator, connection and gateway agree on them (else None).

        They agree when no request is on its way to the gateway (none pending, none sent meanwhile) and
        the lines, leases and subscriptions are as many.
        """
        before = self.connection()
        held = {h.conid for h in self.slots().holdings}
        lines = self.lines()
        after = self.connection()
        settled = before.requests_pending == 0 and before.requests_sent == after.requests_sent
        return held if settled and len(held) == lines == after.subscriptions else None

    def wait_streaming(self, conids: set[int], timeout: float = WAIT_S) -> None:
        """Wait until exactly `conids` stream: leases, connection and gateway agree."""
        wait_until(lambda: self.settled() == conids, timeout, message=f"{len(conids)} streaming")

    def settled(self) -> set[int] | None:
        """`streaming()`, or None while an actor it asks is restarting."""
        try:
            return self.streaming()
        except (LookupError, pykka.ActorDeadError, pykka.Timeout):
            return None

    def observations(self, conid: int) -> list[Observation]:
        return [o for o in self.observed.all(Observation) if o.contract.conid == conid]

    def queued(self) -> dict[int, str]:
        """Active conids whose last word to the queue is Enqueue, with its reason."""
        last: dict[int, Any] = {}
        for message in self.queue.all((Enqueue, Dequeue)):
            conid = message.contract.conid if isinstance(message, Enqueue) else message.conid
            last[conid] = message
        return {conid: m.reason for conid, m in last.items() if isinstance(m, Enqueue)}

    def positions_queued(self) -> set[int]:
        return {m.contract.conid for m in self.queue.all(PositionChanged)}

    def lake_rows(self) -> int:
        return sum(len(m.rows) for m in self.lake.all(WriteRows))

    def _tell(self, name: str, message: Any) -> None:
        wait_until(lambda: self.tree.whereis(name), WAIT_S, message=f"{name} running").tell(message)

    def _ask(self, name: str, message: Any) -> Any:
        ref = self.tree.whereis(name)
        if ref is None:
            raise LookupError(f"{name} is not running")
        return ref.ask(message, timeout=ASK_S)


def _find(node: ChildStatus, name: str) -> ChildStatus | None:
    if node.name == name:
        return node
    return next((found for child in node.children if (found := _find(child, name)) is not None), None)


class LineSampler:
    """Samples the gateway's line count in a thread, as often as it can, until stopped; keeps the extremes."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.maximum = 0
        self.minimum = 1 << 30
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="line-sampler", daemon=True)

    def __enter__(self) -> "LineSampler":
        self._thread.start()
        wait_until(lambda: self.samples, WAIT_S, message="a first sample")
        return self

    def __exit__(self, *exc_info: object) -> None:
        taken = self.samples
        wait_until(lambda: self.samples > taken, WAIT_S, message="a last sample")
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            lines = self._sim.stats().subscriptions
            self.maximum, self.minimum = max(self.maximum, lines), min(self.minimum, lines)
            self.samples += 1
            time.sleep(0.001)
