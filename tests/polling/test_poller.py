"""Queue + poller on the simulator (2,000 positions over TCP, real ib_insync), the real lake writer and lake.

Time is a FakeScheduler: each `advance(interval)` runs exactly one poll cycle, so "within the expected
number of cycles" is counted, not guessed.
"""

import math
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from possync.actors.lake._query import read_all
from possync.actors.lake._tables import POSITION_QUEUE, POSITION_UPDATES
from possync.actors.names import CONNECTION, LAKE_WRITER, POLLER, QUEUE, REGISTRY, STREAMS
from possync.actors.polling._poller import PollerActor
from possync.actors.polling._queue import QueueActor
from possync.actors.polling._refresh import NOTHING_TO_OBSERVE
from possync.actors.registry._actor import RegistryActor
from possync.config.settings import PollerSettings, QueueSettings, RegistrySettings
from possync.messages.domain import Contract, utc_now
from possync.messages.lake import FlushNow
from possync.messages.poller import GetPollerStats, PollTick
from possync.messages.queue import GetQueueStatus
from possync.messages.routing import Enqueue, PositionChanged
from possync.supervisors import ChildSpec, FakeScheduler
from tests.actor_rig import Recorder, SimConnection, ask, lake_writer_spec, start_tree
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)

POSITIONS = 2000
INTERVAL_S = 1.0
BATCH = 250
QUEUE_SETTINGS = dict(refresh_s=600, max_attempts=3, backoff_min_s=1.0, backoff_max_s=2.0, park_s=3600)


class Service:
    """The storage half plus the stand-in connection, on a fake clock the test advances."""

    def __init__(self, root: Path, port: int, request_timeout_s: float = 10.0) -> None:
        self.root = root
        self.scheduler = FakeScheduler()
        self.tree = start_tree(
            lake_writer_spec(str(root)),
            ChildSpec(STREAMS, Recorder, args=([],)),
            ChildSpec(REGISTRY, RegistryActor, args=(root, RegistrySettings())),
            ChildSpec(
                QUEUE,
                QueueActor,
                args=(QueueSettings(**QUEUE_SETTINGS, state_file=str(root.parent / "queue.msgpack")),),
            ),
            ChildSpec(CONNECTION, SimConnection, args=(port,), start_timeout_s=30),
            ChildSpec(
                POLLER,
                PollerActor,
                args=(
                    PollerSettings(
                        interval_s=INTERVAL_S,
                        batch_size=BATCH,
                        request_timeout_s=request_timeout_s,
                        snapshot_lines=0,  # no allocator here: the snapshot channel is tested with the app
                    ),
                ),
            ),
            scheduler=self.scheduler,
        )

    def stats(self):
        return ask(self.tree, POLLER, GetPollerStats())

    def queue_status(self):
        return ask(self.tree, QUEUE, GetQueueStatus())

    def cycle(self) -> None:
        """Advance the fake clock by one interval and wait for the poll cycle it started to finish."""
        before = self.stats().cycles
        self.scheduler.advance(INTERVAL_S)
        wait_until(lambda: self.stats().cycles > before, timeout=30, message="poll cycle done")
        self.queue_status()  # answered after the cycle's outcomes: the queue has recorded them

    def table(self, name: str, min_rows: int):
        """The lake table `name` once it holds at least `min_rows` rows (after asking the writer to flush)."""

        def committed():
            ask(self.tree, LAKE_WRITER, FlushNow())
            if not DeltaTable.is_deltatable(str(self.root / name)):
                return None
            table = read_all(DeltaTable(str(self.root / name)))
            return table if table.num_rows >= min_rows else None

        return wait_until(committed, timeout=30, message=f"{min_rows} rows in {name}")


@pytest.fixture
def service(simulator_factory, lake_root):
    sim = simulator_factory(positions=POSITIONS)
    service = Service(lake_root, sim.port, request_timeout_s=0.5)
    service.sim = sim
    wait_until(
        lambda: service.queue_status().size == POSITIONS, timeout=30, message="queue learned positions"
    )
    service.scheduler.advance(0.0)  # the queue's resync (told at once) runs before the status below answers
    service.queue_status()
    yield service
    service.tree.stop()


def test_all_positions_are_refreshed_within_the_expected_cycles_most_important_first(service):
    urgent = [p for p in service.sim.positions()[-10:]]
    for p in urgent:
        contract = Contract(p.conid, p.symbol, p.sec_type, p.expiry, p.strike, p.right, p.currency)
        service.tree.whereis(QUEUE).tell(Enqueue(contract, priority=1, reason="no line"))
    cycles = math.ceil(POSITIONS / BATCH)
    service.cycle()
    first = service.table("position_updates", BATCH)
    assert {p.conid for p in urgent} <= set(first.column("conid").to_pylist())
    for _ in range(cycles - 1):
        service.cycle()
    stats = service.stats()
    assert (stats.cycles, stats.processed, stats.succeeded, stats.failed) == (cycles, POSITIONS, POSITIONS, 0)
    rows = service.table("position_updates", POSITIONS)
    assert rows.num_rows == POSITIONS  # each exactly once
    assert set(rows.column("source").to_pylist()) == {"poll"}
    assert pc.min(rows.column("market_price")).as_py() > 0  # prices from portfolio updates
    held = {(p.account, p.conid): p.position for p in service.sim.positions()}
    assert {(r["account"], r["conid"]): r["position"] for r in rows.to_pylist()} == held
    service.cycle()
    assert service.stats().processed == POSITIONS  # nothing due again before refresh_s
    audit = service.table("position_queue", POSITIONS)
    assert set(audit.column("outcome").to_pylist()) == {"success"}
    commits = DeltaTable(str(service.root / "position_queue")).version() + 1
    assert commits <= cycles + 2  # batched, never one commit per item
    for table in (POSITION_UPDATES, POSITION_QUEUE):  # plain deltalake reads the documented schema
        assert read_all(DeltaTable(str(service.root / table.name))).schema == table.schema


def test_a_closed_position_is_recorded_as_zero_and_leaves_the_queue(service):
    gone = service.sim.positions()[0]
    service.sim.set_position(gone.conid, 0)
    contract = Contract(gone.conid, gone.symbol, gone.sec_type, gone.expiry, gone.strike, gone.right)
    service.tree.whereis(QUEUE).tell(PositionChanged(gone.account, contract, 0.0, 0.0, utc_now()))
    service.cycle()
    rows = service.table("position_updates", BATCH)
    closed = rows.filter(pc.equal(rows["conid"], gone.conid)).to_pylist()
    assert [(r["position"], r["source"]) for r in closed] == [(0.0, "poll")]
    assert service.stats().closed == 1
    assert service.queue_status().size == POSITIONS - 1


def test_a_timed_out_request_is_deferred_with_its_reason_and_never_reads_as_flat(service):
    service.tree.faults.hang(CONNECTION)
    service.cycle()
    service.tree.faults.release()
    stats = service.stats()
    assert (stats.processed, stats.deferred, stats.closed, stats.succeeded) == (BATCH, BATCH, 0, 0)
    audit = service.table("position_queue", BATCH)
    assert set(audit.column("outcome").to_pylist()) == {"deferred"}
    assert "did not answer PositionsRequest within 0.5s" in audit.column("error")[0].as_py()
    assert not DeltaTable.is_deltatable(str(service.root / "position_updates")) or (
        read_all(DeltaTable(str(service.root / "position_updates"))).num_rows == 0
    )
    assert service.queue_status().parked == ()
    service.cycle()  # the deferred items come back (after backoff_min_s) with the rest
    assert service.stats().succeeded == BATCH


def test_an_item_that_keeps_failing_backs_off_and_is_parked_with_its_reason(service):
    unknown = Contract(1, "NOPE", "STK")
    service.tree.whereis(QUEUE).tell(Enqueue(unknown, priority=1, reason="refused with 101"))
    attempts_at = []
    for _ in range(6):  # backoff 1 s then 2 s: attempts in cycles 1, 2 and 4; parked after the third
        service.cycle()
        attempts_at.append(service.stats().failed)
    assert attempts_at == [1, 2, 2, 3, 3, 3]
    (parked,) = service.queue_status().parked
    assert (parked.conid, parked.attempts, parked.reason) == (1, 3, NOTHING_TO_OBSERVE)
    audit = service.table("position_queue", 1000)
    rows = audit.filter(pc.equal(audit["conid"], 1)).to_pylist()
    assert sorted((r["attempt"], r["outcome"], r["error"]) for r in rows) == [
        (1, "failed", NOTHING_TO_OBSERVE),
        (2, "failed", NOTHING_TO_OBSERVE),
        (3, "parked", NOTHING_TO_OBSERVE),
    ]


def crash_queue(service: Service) -> None:
    """Crash the QueueActor through the fault hook and wait for its next incarnation to be back in full."""
    old = service.tree.whereis(QUEUE)
    service.tree.faults.crash_next(QUEUE)
    old.tell(PollTick())
    wait_until(lambda: service.tree.whereis(QUEUE) not in (None, old), timeout=10, message="queue restarted")
    service.scheduler.advance(0.0)  # its resync
    wait_until(lambda: service.queue_status().size == POSITIONS, timeout=10, message="every item back")


def test_a_queue_restart_loses_and_duplicates_nothing(service):
    assert not Path(service.root.parent / "queue.msgpack").exists()
    crash_queue(service)  # no state file yet: every position comes back from the connection's list
    last = service.sim.positions()[-1]
    contract = Contract(last.conid, last.symbol, last.sec_type, last.expiry, last.strike, last.right)
    service.tree.whereis(QUEUE).tell(Enqueue(contract, priority=1, reason="no line"))  # saved at once
    service.cycle()
    crash_queue(service)  # from the state file: 250 items were out on loan, none is lost or doubled
    cycles = math.ceil(POSITIONS / BATCH)
    for _ in range(cycles):
        service.cycle()
    assert service.queue_status().due == 0
    rows = service.table("position_updates", BATCH + POSITIONS)  # the first batch, then each once more
    assert rows.num_rows == BATCH + POSITIONS
    assert len(set(rows.column("conid").to_pylist())) == POSITIONS
