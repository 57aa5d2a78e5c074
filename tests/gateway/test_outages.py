"""Gateway outages: after a drop or a full restart every active contract streams again, once, paced."""

from collections.abc import Callable

import pytest

from possync.actors.names import SLOT_ALLOCATOR
from possync.messages.slots import ReleaseSlot, SlotLease
from possync.supervisors import EventKind
from tests.helpers import wait_until
from tests.streaming.support import Harness

STREAMS_100 = {"active_count": 100, "positions": 200, "slots": {"budget": 100}}


def _connection_events(harness: Harness, kind: EventKind) -> int:
    return sum(1 for e in harness.tree.events.all() if e.child == "connection" and e.kind is kind)


@pytest.mark.timeout(120)
def test_an_admin_drop_restarts_the_session_and_every_stream_comes_back_once(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(**STREAMS_100)
    harness.wait_streaming(set(harness.active))
    epoch = harness.slots().epoch

    assert harness.sim.drop_all() == 1

    wait_until(lambda: _connection_events(harness, EventKind.EXITED) == 1, 30)
    harness.wait_streaming(set(harness.active))
    assert harness.lines() == 100, "no leak, no duplicate subscription"
    assert harness.slots().epoch > epoch, "a new session has a new ledger epoch"
    assert harness.sim.stats().pacing_violations == 0
    assert harness.connection().pacing_delays > 0, "the resubscription storm was paced"

    stale = ReleaseSlot(SlotLease(1, epoch))
    harness.tree.whereis(SLOT_ALLOCATOR).tell(stale)
    harness.wait_streaming(set(harness.active))
    assert len(harness.slots().holdings) == 100, "a release from an older epoch is a no-op"


@pytest.mark.timeout(120)
def test_a_full_gateway_restart_is_retried_quietly_until_the_gateway_is_back(
    start_harness: Callable[..., Harness], log_lines: list[tuple[str, str]]
) -> None:
    harness = start_harness(**STREAMS_100)
    harness.wait_streaming(set(harness.active))

    harness.sim.stop()
    wait_until(lambda: _connection_events(harness, EventKind.START_FAILED) >= 3, 30, message="retries")
    harness.sim.start()

    harness.wait_streaming(set(harness.active))
    assert harness.lines() == 100
    assert harness.sim.stats().pacing_violations == 0
    backoffs = [e.delay_s for e in harness.tree.events.all() if e.kind is EventKind.BACKOFF and e.delay_s]
    assert backoffs and all(delay > 0 for delay in backoffs)
    warnings = [text for level, text in log_lines if level == "WARNING" and "cannot connect" in text]
    assert len(warnings) == 1, f"one clear line, not one per attempt: {warnings}"
    assert "is the Gateway (or TWS) running" in warnings[0] and f":{harness.sim.port}" in warnings[0]
    assert sum(1 for level, text in log_lines if level == "DEBUG" and "connection attempt" in text) >= 2
    assert any("after" in text and "failed attempts" in text for _level, text in log_lines)
