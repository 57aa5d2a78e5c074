"""The session's market data type and the gateway's market-data refusals, against the simulator over TCP
with the unmodified client: the type goes out once on connecting ("live wins" then serves live where
permitted and delayed elsewhere), 354 without it, 10090 leaves a line streaming, snapshots follow."""

from collections.abc import Callable
from typing import Any

import pytest

from possync.actors.gateway import describe_market_data
from possync.actors.gateway._market_data import connection_type
from possync.messages.connection import SubscriptionFailed
from possync.messages.domain import DataType, Observation, Tick
from possync.messages.slots import SlotLease
from possync.messages.snapshots import Snapshot, SnapshotOrder
from possync.simulator import Simulator
from tests.helpers import holds_throughout, wait_until
from tests.streaming.support import Recording, active

WAIT_S = 10.0


class Types:
    """A tick handler keeping the data type of each line's ticks (by conid); thread-safe enough (sets)."""

    def __init__(self) -> None:
        self.seen: dict[int, set[DataType | None]] = {}

    def handler(self, conid: int) -> Callable[[Tick], tuple[Observation, ...]]:
        def on_tick(tick: Tick) -> tuple[Observation, ...]:
            self.seen.setdefault(conid, set()).add(tick.data_type)
            return ()

        return on_tick


def test_the_connection_type_falls_back_to_delayed_only_when_asked() -> None:
    assert connection_type("live", True) == 3 and connection_type("frozen", True) == 4
    assert connection_type("live", False) == 1 and connection_type("frozen", False) == 2
    assert connection_type("delayed", False) == 3 and connection_type("delayed_frozen", True) == 4


def test_status_says_what_the_connection_asks_for() -> None:
    assert describe_market_data("live", True) == "live (delayed where not permitted)"
    assert describe_market_data("frozen", True) == "frozen (delayed frozen where not permitted)"
    assert describe_market_data("live", False) == "live"
    assert describe_market_data("delayed", True) == "delayed"


@pytest.mark.timeout(30)
def test_at_type_3_permitted_contracts_stream_live_and_the_others_delayed(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory()
    live, delayed = sim.positions()[:2]
    sim.set_entitlements([delayed.conid], live=False, delayed=True)
    events, types = Recording(), Types()
    session = session_on(sim, events, market_data_type=3)
    for i, position in enumerate((live, delayed)):
        session.subscribe(SlotLease(i, 1), active(position).contract, types.handler(position.conid))
    wait_until(lambda: len(types.seen) == 2, WAIT_S, message="both lines tick")
    holds_throughout(lambda: not events.all(SubscriptionFailed), 0.5, message="no refusal")
    assert types.seen == {live.conid: {DataType.LIVE}, delayed.conid: {DataType.DELAYED}}
    assert sim.stats().data_warnings.get(10167) == 1 and sim.stats().subscriptions == 2


@pytest.mark.timeout(30)
def test_at_type_1_a_contract_without_permission_is_refused_354_and_holds_no_line(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory()
    position = sim.positions()[0]
    sim.set_entitlements([position.conid], live=False)
    events = Recording()
    session = session_on(sim, events, market_data_type=1)
    session.subscribe(SlotLease(1, 1), active(position).contract, Types().handler(position.conid))
    (failure,) = wait_until(lambda: events.all(SubscriptionFailed), WAIT_S, message="refused")
    assert (failure.lease, failure.code) == (SlotLease(1, 1), 354)
    assert "Delayed market data is available" in failure.message
    wait_until(lambda: session.requests_pending == 0, WAIT_S)
    assert sim.stats().subscriptions == 0


@pytest.mark.timeout(30)
def test_10090_is_a_warning_that_leaves_the_line_streaming(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory(positions=20, no_live_sec_types=("STK",))
    option = next(p for p in sim.positions() if p.sec_type == "OPT")
    events, types = Recording(), Types()
    session = session_on(sim, events, market_data_type=3)
    session.subscribe(SlotLease(1, 1), active(option).contract, types.handler(option.conid))
    wait_until(lambda: sim.stats().data_warnings.get(10090), WAIT_S, message="10090 sent")
    wait_until(lambda: types.seen.get(option.conid) == {DataType.LIVE}, WAIT_S, message="live ticks")
    holds_throughout(lambda: not events.all(SubscriptionFailed), 0.5, message="never cancelled")
    assert sim.stats().subscriptions == 1


@pytest.mark.timeout(30)
def test_a_snapshot_without_live_permission_is_delayed_and_says_so(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory()
    position = sim.positions()[0]
    sim.set_entitlements([position.conid], live=False, delayed=True)
    session = session_on(sim, Recording(), market_data_type=3)
    done: list[tuple[Snapshot, ...]] = []
    session.snapshots((SnapshotOrder(SlotLease(1, 1), active(position).contract),), 5.0, done.append)
    ((snapshot,),) = wait_until(lambda: done, WAIT_S, message="the snapshot")
    assert snapshot.market_price is not None and snapshot.code == 0
    assert snapshot.data_type is DataType.DELAYED
