"""The history behind the status page's sparklines: rates from counters, restarts, a bounded ring."""

import msgspec
import pytest

from possync.actors.service import History, Sample
from possync.messages.status import (
    ConnectionStatus,
    LakeStatusSummary,
    QueueStatus,
    ServiceStatus,
    SlotStatus,
    StreamStatus,
    SupervisionStatus,
)
from tests.helpers import wait_until


def status(ticks: dict[int, int], rows: int, lines: int) -> ServiceStatus:
    """A status document with these stream tick counters, committed rows and lines in use."""
    return ServiceStatus(
        connection=ConnectionStatus(connected=True),
        slots=SlotStatus(budget=90, effective=90, in_use=lines),
        streams=[StreamStatus(conid, "streaming", ticks=count) for conid, count in ticks.items()],
        queue=QueueStatus(0),
        lake=LakeStatusSummary(rows_written=rows, pending_rows=0),
        supervision=SupervisionStatus(0),
    )


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.timeout(10)
def test_rates_come_from_the_counters_and_a_restarted_counter_counts_from_zero() -> None:
    clock = Clock()
    history = History(lambda: status({}, 0, 0), clock=clock)
    for ticks, rows, lines, step in (
        ({1: 10, 2: 10}, 100, 2, 0.0),  # the baseline: no sample yet
        ({1: 30, 2: 20}, 150, 2, 2.0),  # +30 ticks, +50 rows in 2 s
        ({1: 5, 2: 40, 3: 7}, 250, 3, 1.0),  # stream 1 restarted (5 since), 2 +20, 3 is new (7)
    ):
        clock.now += step
        history.record(status(ticks, rows, lines))

    assert history.document().samples == [Sample(1002.0, 15.0, 25.0, 2), Sample(1003.0, 32.0, 100.0, 3)]


@pytest.mark.timeout(10)
def test_the_ring_keeps_the_newest_samples_only() -> None:
    clock = Clock()
    history = History(lambda: status({}, 0, 0), size=3, clock=clock)
    for second in range(6):
        clock.now += 1
        history.record(status({}, second * 10, second))

    document = history.document()
    assert [sample.lines_in_use for sample in document.samples] == [3, 4, 5]
    encoded = msgspec.json.decode(msgspec.json.encode(document))
    assert encoded["fields"] == ["t", "ticks_per_s", "rows_per_s", "lines_in_use"]
    assert encoded["samples"][-1] == [1006.0, 0.0, 10.0, 5]


@pytest.mark.timeout(10)
def test_the_sampler_thread_samples_every_interval_and_stops() -> None:
    counter = iter(range(10**6))
    history = History(lambda: status({1: next(counter)}, 0, 1), interval_s=0.02)
    history.start()
    try:
        wait_until(lambda: len(history.document().samples) >= 3, 5, message="3 samples")
    finally:
        history.stop()
    assert all(sample.lines_in_use == 1 for sample in history.document().samples)
