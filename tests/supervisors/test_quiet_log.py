"""The quiet-log helpers with a fake clock: bursts become one line with a count, lasting conditions are logged
when they start, at growing intervals, and when they end; supervision events read as sentences."""

from collections.abc import Iterator

import pytest

from possync.supervisors import BurstLog, EventKind, LastingLog
from possync.supervisors.events import SupervisionEvent, describe
from tests.helpers import captured_log

pytestmark = pytest.mark.timeout(10)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def lines() -> Iterator[list[str]]:
    with captured_log("DEBUG") as captured:
        yield captured


def test_a_burst_is_one_line_with_a_count_and_the_first_names(lines: list[str]) -> None:
    burst = BurstLog(shown=3, clock=FakeClock())
    for conid in range(100, 200):
        burst.add("could not start the stream", conid)
    assert lines == ["could not start the stream (100)"]  # the first at once
    assert burst.flush() == 1
    assert lines[-1] == "could not start the stream: 100 times (100, 101, 102, …)"
    assert burst.flush() == 0


def test_a_lone_event_is_one_line_and_a_stale_burst_flushes_on_the_next(lines: list[str]) -> None:
    clock = FakeClock()
    burst = BurstLog(window_s=1.0, clock=clock)
    burst.add("refused", 1)
    burst.add("refused", 2)
    clock.t += 2
    burst.add("refused", 3)
    assert lines == ["refused (1)", "refused: 2 times (1, 2)", "refused (3)"]


def test_a_lasting_condition_is_logged_at_growing_intervals_and_when_it_ends(lines: list[str]) -> None:
    clock = FakeClock()
    lasting = LastingLog(first_s=10, factor=2, max_s=40, clock=clock)
    logged_at = []
    for second in range(200):
        clock.t = 100.0 + second
        if lasting.still("gw", "no gateway"):
            logged_at.append(second)
    assert logged_at == [0, 10, 30, 70, 110, 150, 190]  # 10, 20, 40 (capped), 40, ...
    assert lines[1] == "no gateway (still, for 10s, 11 times)"
    assert lasting.ended("gw", "gateway back")
    assert lines[-1] == "gateway back (after 199s, 200 times)"
    assert not lasting.ended("gw", "gateway back")  # once
    assert not lasting.active("gw")


def test_supervision_events_read_as_sentences() -> None:
    failed = SupervisionEvent(
        EventKind.START_FAILED, "session", "connection", 3, 1.0, "GatewayUnreachable: x"
    )
    assert (
        describe(failed)
        == "supervision: session: connection (incarnation 3) failed to start: GatewayUnreachable: x"
    )
    for kind in EventKind:
        assert "SupervisionEvent(" not in describe(SupervisionEvent(kind, "app", "queue", 1, 0.0))


def test_a_stale_burst_is_flushed_by_any_later_event_and_levels_are_per_message(lines: list[str]) -> None:
    clock = FakeClock()
    burst = BurstLog(window_s=1.0, clock=clock)
    burst.add("refused (101)", 1, "INFO")
    burst.add("refused (101)", 2, "INFO")
    assert burst.flush_stale() == 0  # not yet
    clock.t += 1.5
    assert burst.flush_stale() == 1
    assert lines == ["refused (101) (1)", "refused (101): 2 times (1, 2)"]
