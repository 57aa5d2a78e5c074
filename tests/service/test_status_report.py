"""StatusReport on a real tree: the document, and missing, failing or stuck actors reported, not awaited."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest

import possync.messages.status as report
from possync.actors.names import CONNECTION, LAKE_WRITER, QUEUE, SLOT_ALLOCATOR, STREAMS, stream_name
from possync.actors.service._status_report import StatusReport
from possync.config.settings import Settings
from possync.messages.connection import ConnectionStatus
from possync.messages.domain import utc_now
from possync.messages.lake import LakeStatus
from possync.messages.queue import ParkedItem, QueueStatus
from possync.messages.slots import SlotHolding, SlotStatus
from possync.messages.streams import ActiveStreams, StreamState, StreamStatus
from possync.supervisors import (
    Backoff,
    ChildContext,
    ChildSpec,
    SupervisedActor,
    SupervisionTree,
    SupervisorSpec,
    TreeState,
)
from tests.helpers import wait_until

SETTINGS = Settings()
GATEWAY = f"{SETTINGS.ib.host}:{SETTINGS.ib.port}"

CONNECTED = ConnectionStatus(
    host=SETTINGS.ib.host,
    port=SETTINGS.ib.port,
    client_id=23,
    accounts=("DU1",),
    subscriptions=2,
    requests_sent=7,
    requests_pending=0,
    pacing_delays=3,
    suspect=(),
)
SLOTS = SlotStatus(
    epoch=1,
    budget=90,
    effective_budget=88,
    holdings=(SlotHolding(1, stream_name(1), 1, 1, 10), SlotHolding(2, "poller", 1, 0, 100, lent=True)),
    waiting=0,
    refusals=2,
    demotions=0,
    leaks=1,
)
QUEUED = QueueStatus(size=12, due=3, on_loan=0, oldest_age_s=4.0, parked=())
LAKE = LakeStatus(
    healthy=True,
    rows_accepted=100,
    rows_written=90,
    pending_rows=10,
    commits=4,
    failed_commits=0,
    journal_bytes=2048,
    last_error="",
    last_commit_age_s=1.5,
)


def stream(conid: int, ticks: int, state: StreamState = StreamState.STREAMING) -> StreamStatus:
    return StreamStatus(
        conid=conid,
        priority=10,
        state=state,
        lease=None,
        suspect=False,
        ticks=ticks,
        resubscriptions=0,
        market_price=101.0 if ticks else None,
        last_tick_age_s=0.5 if ticks else None,
        symbol=f"S{conid}",
        strategy_id="alpha",
        reason="" if state is StreamState.STREAMING else "refused (200: unknown)",
    )


HEALTHY: dict[str, Any] = {
    CONNECTION: CONNECTED,
    SLOT_ALLOCATOR: SLOTS,
    QUEUE: QUEUED,
    LAKE_WRITER: LAKE,
    STREAMS: ActiveStreams({2: stream_name(2), 1: stream_name(1)}),
    stream_name(1): stream(1, ticks=5),
    stream_name(2): stream(2, ticks=0),
}


class Answering(SupervisedActor):
    """Answers every ask with one canned status, as the real actor answers its status message."""

    def __init__(self, ctx: ChildContext | None, answer: Any) -> None:
        super().__init__(ctx)
        self._answer = answer

    def on_receive(self, message: Any) -> Any:
        return self._answer


Start = Callable[..., tuple[SupervisionTree, StatusReport]]


@pytest.fixture
def start() -> Iterator[Start]:
    """`start(answers, timeout_s, backoff)`: a started tree of one Answering child per name, and its report.

    The report is made before the tree starts (the test starts it), as the service does. Every tree is
    stopped after the test.
    """
    trees: list[SupervisionTree] = []

    def start_tree(
        answers: dict[str, Any], timeout_s: float = 2.0, backoff: Backoff | None = None
    ) -> tuple[SupervisionTree, StatusReport]:
        children = tuple(
            ChildSpec(name, Answering, args=(answer,), start_required=False)
            for name, answer in answers.items()
        )
        spec = SupervisorSpec("status-test", children=children, intensity=10, period_s=60, backoff=backoff)
        tree = SupervisionTree(spec)
        trees.append(tree)
        status_report = StatusReport(tree, SETTINGS, timeout_s)
        return tree, status_report

    yield start_tree
    for tree in trees:
        tree.faults.release()  # a hung actor ignores its stop: release it first, or the stop waits it out
        tree.stop()


def without(*names: str, **replaced: Any) -> dict[str, Any]:
    """The healthy answers without `names` (not running), with some answers replaced (by name)."""
    return {name: replaced.get(name, answer) for name, answer in HEALTHY.items() if name not in names}


def timed(status_report: StatusReport) -> tuple[report.ServiceStatus, float]:
    started = time.monotonic()
    document = status_report.status()
    return document, time.monotonic() - started


def test_a_tree_whose_actors_all_answer_is_reported_healthy_with_their_figures(start: Start) -> None:
    tree, status_report = start(HEALTHY)
    tree.start()

    document = status_report.status()

    assert document.degraded == []
    since = document.connection.connected_since
    assert since is not None and abs((utc_now() - since).total_seconds()) < 10
    assert document.connection == report.ConnectionStatus(
        True,
        SETTINGS.ib.host,
        SETTINGS.ib.port,
        client_id=23,
        reconnects=0,
        pacing_delays=3,
        connected_since=since,
        market_data_type="live (delayed where not permitted)",
    )
    assert document.slots == report.SlotStatus(
        budget=90, effective=88, in_use=2, refused_101=2, leaks_reclaimed=1, lent=1
    )
    assert document.streams == [  # by conid; no tick yet reads as subscribed
        report.StreamStatus(1, "streaming", 0.5, "S1", "alpha", 10, 101.0, "", ticks=5),
        report.StreamStatus(2, "subscribed", None, "S2", "alpha", 10, None, "", ticks=0),
    ]
    assert document.queue == report.QueueStatus(12, 0, oldest_age_s=4.0)
    assert document.lake == report.LakeStatusSummary(
        90, 10, commits=4, healthy=True, last_error="", last_commit_age_s=1.5
    )
    assert document.supervision == report.SupervisionStatus(0, {})


def test_an_actor_that_is_not_running_is_reported_at_once(start: Start) -> None:
    tree, status_report = start(without(QUEUE))
    tree.start()

    document, elapsed = timed(status_report)

    assert document.degraded == ["queue is not running"]
    assert document.queue == report.QueueStatus(0)
    assert elapsed < 1.0


def test_a_stuck_actor_is_reported_by_the_deadline_instead_of_waited_for(start: Start) -> None:
    tree, status_report = start(HEALTHY, timeout_s=0.5)
    tree.start()
    tree.faults.hang(LAKE_WRITER, 30)

    document, elapsed = timed(status_report)

    assert document.degraded == ["lake_writer did not answer within 0.5s"]
    assert document.lake.healthy is False
    assert document.queue == report.QueueStatus(12, 0, 4.0)  # the others' parts are still there
    assert 0.4 < elapsed < 1.5


def test_the_deadline_holds_for_the_whole_document_not_for_each_stuck_actor(start: Start) -> None:
    tree, status_report = start(HEALTHY, timeout_s=1.0)
    tree.start()
    for name in (SLOT_ALLOCATOR, QUEUE, LAKE_WRITER):
        tree.faults.hang(name, 30)

    document, elapsed = timed(status_report)

    assert sorted(document.degraded) == [
        f"{name} did not answer within 1s" for name in (LAKE_WRITER, QUEUE, SLOT_ALLOCATOR)
    ]
    assert elapsed < 2.0  # one deadline in total: three sequential waits would take 3 s


def test_an_actor_that_fails_to_answer_is_reported_with_its_error(start: Start) -> None:
    tree, status_report = start(HEALTHY)
    tree.start()
    tree.faults.crash_next(QUEUE)  # an ask gets the error back; the actor lives on

    document = status_report.status()

    assert len(document.degraded) == 1
    assert document.degraded[0].startswith("queue failed to report its status: InjectedFault(")
    assert status_report.status().degraded == []  # answered again the next time


def test_without_the_session_the_gateway_is_reported_unreachable_once(start: Start) -> None:
    tree, status_report = start(without(CONNECTION, SLOT_ALLOCATOR, STREAMS))
    tree.start()

    document = status_report.status()

    assert document.degraded == [f"not connected to the gateway at {GATEWAY}: connection is not running"]
    assert document.connection.connected is False
    assert document.slots == report.SlotStatus(budget=90, effective=90, in_use=0)
    assert document.streams == []


def test_a_connection_that_failed_to_start_is_reported_with_the_reason(start: Start) -> None:
    tree, status_report = start(HEALTHY, backoff=Backoff(min_s=60, max_s=60))  # no retry during the test
    tree.faults.fail_start(CONNECTION)
    tree.start()

    document = status_report.status()

    why = "InjectedFault: start of 'connection' failed by fault injection"
    assert document.connection.last_error == why
    assert document.degraded == [f"not connected to the gateway at {GATEWAY}: {why}"]


def test_restarts_are_counted_by_actor_and_a_new_connection_counts_as_a_reconnect(start: Start) -> None:
    tree, status_report = start(HEALTHY)
    tree.start()

    for name in (CONNECTION, QUEUE, QUEUE):
        crashed = tree.whereis(name)
        assert crashed is not None
        tree.faults.crash_next(name)
        crashed.tell("crash")  # a told message that raises ends the actor; it is restarted
        wait_until(lambda name=name, crashed=crashed: tree.whereis(name) not in (None, crashed), 5)

    document = status_report.status()

    crashed = "InjectedFault: message to '{}' crashed by fault injection"
    assert document.supervision == report.SupervisionStatus(
        3, {CONNECTION: 1, QUEUE: 2}, {name: crashed.format(name) for name in (CONNECTION, QUEUE)}
    )
    assert document.connection.reconnects == 1
    assert document.connection.last_error == ""
    assert document.degraded == []


def test_what_needs_attention_is_listed_in_degraded(start: Start) -> None:
    suspect = msgspec.structs.replace(CONNECTED, suspect=("data farm usfarm is broken",))
    sick_lake = msgspec.structs.replace(LAKE, healthy=False, last_error="disk full")
    parked = QueueStatus(12, 0, 0, 4.0, (ParkedItem(3, "XYZ", 5, "refused"),))
    tree, status_report = start(
        without(
            **{
                CONNECTION: suspect,
                LAKE_WRITER: sick_lake,
                QUEUE: parked,
                stream_name(2): stream(2, ticks=0, state=StreamState.PARKED),
            }
        )
    )
    tree.start()

    document = status_report.status()

    assert document.degraded == [
        "market data may be silent: data farm usfarm is broken",
        "lake writer: disk full",
        "1 queued positions parked after repeated failures",
        "the gateway refused market data for active conids [2]",
    ]
    assert document.queue == report.QueueStatus(12, 1, 4.0, [report.ParkedPosition(3, "XYZ", 5, "refused")])
    assert [(s.state, s.reason) for s in document.streams] == [
        ("streaming", ""),
        ("parked", "refused (200: unknown)"),
    ]


def test_a_stopped_tree_is_reported_with_every_actor_missing(start: Start) -> None:
    tree, status_report = start(HEALTHY)
    tree.start()
    tree.stop()
    assert tree.state is TreeState.STOPPED

    document, elapsed = timed(status_report)

    assert document.degraded[0] == "the supervision tree is stopped"
    assert f"not connected to the gateway at {GATEWAY}: connection is not running" in document.degraded
    assert "lake_writer is not running" in document.degraded
    assert elapsed < 1.0


def test_a_stuck_stream_is_shown_unavailable_without_holding_up_the_document(start: Start) -> None:
    tree, status_report = start(HEALTHY, timeout_s=0.5)
    tree.start()
    tree.faults.hang(stream_name(2), 30)

    document, elapsed = timed(status_report)

    assert document.streams == [
        report.StreamStatus(1, "streaming", 0.5, "S1", "alpha", 10, 101.0, ticks=5),
        report.StreamStatus(2, "unavailable"),
    ]
    assert elapsed < 1.5


def test_a_stuck_stream_is_a_reason_for_attention(start: Start) -> None:
    tree, status_report = start(HEALTHY, timeout_s=0.5)
    tree.start()
    tree.faults.hang(stream_name(2), 30)

    document = status_report.status()

    assert document.degraded == [f"{stream_name(2)} did not answer within 0.5s"]


def test_one_stuck_actor_does_not_make_the_answering_streams_unavailable(start: Start) -> None:
    tree, status_report = start(HEALTHY, timeout_s=0.5)
    tree.start()
    tree.faults.hang(LAKE_WRITER, 30)

    document = status_report.status()

    assert document.degraded == ["lake_writer did not answer within 0.5s"]
    assert [s.state for s in document.streams] == ["streaming", "subscribed"]
