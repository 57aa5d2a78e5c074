"""Test parts for the storage half: a message recorder, and a stand-in CONNECTION on a real gateway.

`SimConnection` is what the storage half needs from the ConnectionActor, built the simplest real way:
an unmodified IB client connected over TCP to the simulator, owned by the actor's thread (its
own asyncio loop). On start it tells the QUEUE every position (as the real connection routes
positions without a stream); it answers `PositionsRequest` from `ib.positions()` (the positions
subscription, complete after connect) and `ib.portfolio()` (prices from account updates).
"""

import asyncio
from collections.abc import Callable
from typing import Any

from possync.actors.gateway._convert import from_ib, position_changed
from possync.actors.lake._writer import LakeWriterActor
from possync.actors.names import LAKE_WRITER, QUEUE
from possync.config.settings import LakeSettings
from possync.messages.domain import utc_now
from possync.messages.poller import HeldPosition, PositionsReply, PositionsRequest
from possync.supervisors import (
    ChildContext,
    ChildSpec,
    Scheduler,
    SupervisedActor,
    SupervisionTree,
    SupervisorSpec,
)
from tests.conftest import next_client_id
from tests.helpers import ib_module, wait_until


class Recorder(SupervisedActor):
    """Records every message it is told (thread-safe) and answers asks with None."""

    def __init__(self, ctx: ChildContext | None, sink: list[Any]) -> None:
        super().__init__(ctx)
        self._sink = sink

    def on_receive(self, message: Any) -> None:
        self._sink.append(message)


class SimConnection(SupervisedActor):
    """Stand-in for the ConnectionActor's positions service (module docstring), on the simulator."""

    def __init__(self, ctx: ChildContext | None, port: int) -> None:
        super().__init__(ctx)
        self._port = port
        self._ib: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_start(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._ib = ib_module().IB()
        self._ib.connect("127.0.0.1", self._port, clientId=next_client_id(), readonly=True, timeout=20)
        assert self.ctx is not None
        queue = self.ctx.tree.whereis(QUEUE)
        for position in self._ib.positions():
            if queue is not None:
                queue.tell(position_changed(position))

    def on_stop(self) -> None:
        if self._ib is not None:
            self._ib.disconnect()
        if self._loop is not None:
            self._loop.close()

    def on_receive(self, message: Any) -> Any:
        match message:
            case PositionsRequest(conids=conids):
                return self._positions(None if conids is None else set(conids))
        return None

    def _positions(self, conids: set[int] | None) -> PositionsReply:
        ib = self._ib
        assert ib is not None
        ib.sleep(0.05)  # let the loop take in what the gateway sent since the last request
        prices = {(p.account, p.contract.conId): p.marketPrice for p in ib.portfolio()}
        held = tuple(
            HeldPosition(
                p.account,
                from_ib(p.contract),
                float(p.position),
                float(p.avgCost),
                prices.get((p.account, p.contract.conId)),
            )
            for p in ib.positions()
            if conids is None or p.contract.conId in conids
        )
        return PositionsReply(True, tuple(ib.managedAccounts()), held, utc_now())


def lake_writer_spec(root: str) -> ChildSpec:
    """The real lake writer, flushing often (tests wait for commits)."""
    return ChildSpec(LAKE_WRITER, LakeWriterActor, args=(LakeSettings(root=root, flush_interval_s=0.2),))


def start_tree(*children: ChildSpec, scheduler: Scheduler | None = None) -> SupervisionTree:
    """A started one_for_one tree of `children` (the caller stops it)."""
    spec = SupervisorSpec("storage-test", children=children, intensity=10, period_s=60)
    return SupervisionTree(spec, scheduler=scheduler).start()


def ask(tree: SupervisionTree, name: str, message: Any, timeout_s: float = 10.0) -> Any:
    """Ask the actor `name` of `tree` (waiting for it to be running first)."""
    ref = wait_until(lambda: tree.whereis(name), timeout=10, message=f"{name} running")
    return ref.ask(message, timeout=timeout_s)


def find(messages: list[Any], predicate: Callable[[Any], bool]) -> list[Any]:
    """The recorded messages matching `predicate` (a copy: the recorder may append meanwhile)."""
    return [m for m in list(messages) if predicate(m)]
