"""`streams.min_row_interval_s` bounds the rows of a busy stream: changes within it are coalesced, the latest
values win, and every row still reaches both the update handlers and the lake writer."""

import time
from collections import Counter
from collections.abc import Callable

import pytest

from possync.messages.domain import Observation
from possync.messages.lake import WriteRows
from tests.helpers import wait_until
from tests.streaming.support import Harness

INTERVAL_S = 0.25
TICK_HZ = 40.0


@pytest.mark.timeout(60)
def test_a_stream_ticking_at_40_hz_writes_at_most_one_row_per_interval(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(
        active_count=3,
        positions=10,
        sim={"tick_hz": TICK_HZ},
        streams={"min_row_interval_s": INTERVAL_S, "write_interval_s": 0.3},
    )
    harness.wait_streaming(set(harness.active))
    conids = sorted(harness.active)
    before = {conid: (harness.stream(conid).ticks, len(harness.observations(conid))) for conid in conids}
    started = time.monotonic()
    wait_until(
        lambda: all(harness.stream(c).ticks >= before[c][0] + 2 * TICK_HZ for c in conids), 20, message="2 s"
    )
    elapsed = time.monotonic() - started

    for conid in conids:
        rows = len(harness.observations(conid)) - before[conid][1]
        ticks = harness.stream(conid).ticks - before[conid][0]
        assert rows <= elapsed / INTERVAL_S + 2, f"{conid}: {rows} rows in {elapsed:.2f}s ({ticks} ticks)"
        assert rows >= elapsed / INTERVAL_S / 3, f"{conid}: coalesced changes are still written ({rows})"
    observed = Counter(harness.observed.all(Observation))
    written = lambda: Counter(row for message in harness.lake.all(WriteRows) for row in message.rows)  # noqa: E731
    wait_until(lambda: not observed - written(), 5, message="the lake writer gets every row")
