"""Hybrid routing: active contracts stream (one line each), every other position goes to the queue."""

from collections.abc import Callable

import pytest

from possync.actors.names import STREAMS
from possync.messages.routing import Dequeue, PositionChanged
from possync.messages.streams import GetActiveStreams
from tests.helpers import wait_until
from tests.streaming.support import Harness, active


@pytest.mark.timeout(60)
def test_20_active_of_200_positions_stream_and_the_other_180_are_queued(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=20, positions=200)
    active_conids = set(harness.active)
    all_conids = {p.conid for p in harness.sim.positions()}

    harness.wait_streaming(active_conids)
    assert harness.lines() == 20
    wait_until(
        lambda: all(harness.observations(c) for c in active_conids), 10, message="ticks reach handlers"
    )
    wait_until(lambda: harness.positions_queued() >= all_conids - active_conids, 10)
    assert set(harness.queued()) == set(), "every active contract streams: none is left in the queue"
    dequeued = {m.conid for m in harness.queue.all(Dequeue)}
    assert dequeued == active_conids
    wait_until(lambda: harness.lake_rows() > 0, 5, message="observations reach the lake writer")

    observation = harness.observations(next(iter(active_conids)))[-1]
    held = next(p for p in harness.sim.positions() if p.conid == observation.contract.conid)
    assert (observation.position, observation.avg_cost) == (held.position, pytest.approx(held.avg_cost))
    assert observation.market_price is not None and observation.source == "stream"


@pytest.mark.timeout(60)
def test_a_position_change_reaches_its_stream_or_the_queue(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=2, positions=20)
    streamed, queued = harness.sim.positions()[0], harness.sim.positions()[10]
    harness.wait_streaming(set(harness.active))

    harness.sim.set_position(streamed.conid, 777.0)
    harness.sim.set_position(queued.conid, 555.0)

    wait_until(lambda: any(o.position == 777.0 for o in harness.observations(streamed.conid)), 10)
    wait_until(lambda: any(m.position == 555.0 for m in harness.queue.all(PositionChanged)), 10)
    to_queue = harness.queue.all(PositionChanged)
    assert not any(m.contract.conid == streamed.conid and m.position == 777.0 for m in to_queue)


@pytest.mark.timeout(60)
def test_activation_streams_at_once_and_deactivation_frees_the_line_at_once(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=3, positions=20)
    harness.wait_streaming(set(harness.active))
    newcomer = harness.sim.positions()[5]

    harness.activate(active(newcomer))
    harness.wait_streaming(set(harness.active))
    assert harness.lines() == 4
    assert set(harness.tree.whereis(STREAMS).ask(GetActiveStreams(), timeout=5).names) == set(harness.active)

    gone = next(iter(harness.active))
    harness.deactivate(gone)
    harness.wait_streaming(set(harness.active))
    assert harness.lines() == 3
    last_position = lambda: harness.queue.all(PositionChanged)[-1].contract.conid  # noqa: E731
    wait_until(lambda: last_position() == gone, 10, message="its position goes back to the queue")


@pytest.mark.timeout(60)
def test_a_failing_handler_is_logged_and_the_stream_goes_on(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=1, positions=5)
    conid = next(iter(harness.active))

    def broken(observation: object) -> None:
        raise ValueError("handler bug")

    harness.handlers.add(broken)
    seen = len(harness.observations(conid))
    wait_until(lambda: len(harness.observations(conid)) > seen + 3, 10)
    assert harness.incarnation(f"stream-{conid}") == 1
