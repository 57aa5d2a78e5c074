"""Streams hand observations to the lake writer in batches: every one, in few messages, even on a crash;
and the update handlers get them at once, one at a time."""

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from possync.actors.names import stream_name
from possync.messages.domain import Observation
from possync.messages.lake import WriteRows
from possync.messages.streams import CheckSilence
from tests.helpers import wait_until
from tests.streaming.support import Harness


def _written(harness: Harness) -> Counter[Observation]:
    return Counter(row for message in harness.lake.all(WriteRows) for row in message.rows)


def _all_written(harness: Harness, observed: list[Observation]) -> bool:
    return not Counter(observed) - _written(harness)


@pytest.mark.timeout(60)
def test_every_observation_reaches_the_lake_writer_all_streams_in_one_message_per_interval(
    start_harness: Callable[..., Harness],
) -> None:
    started = time.monotonic()
    harness = start_harness(
        active_count=5, positions=10, sim={"tick_hz": 40.0}, streams={"write_interval_s": 0.3}
    )
    harness.wait_streaming(set(harness.active))
    wait_until(lambda: len(harness.observed.all(Observation)) >= 400, 20, message="400 observations")

    observed = harness.observed.all(Observation)
    wait_until(lambda: _all_written(harness, observed), 5, message="every observation handed to the lake")
    messages = harness.lake.all(WriteRows)
    intervals = (time.monotonic() - started) / 0.3
    assert len(messages) <= intervals + 1, f"{len(messages)} messages in {intervals:.0f} write intervals"
    assert any({row.contract.conid for row in m.rows} == set(harness.active) for m in messages), (
        "one message carries the rows of every stream"
    )
    assert max(_written(harness).values()) == 1, "no observation is handed over twice"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ending", ["crash", "deactivation"])
def test_a_stream_that_crashes_or_stops_hands_over_what_it_gathered(
    start_harness: Callable[..., Harness], ending: str
) -> None:
    harness = start_harness(
        active_count=2, positions=10, sim={"tick_hz": 20.0}, streams={"write_interval_s": 3600.0}
    )
    harness.wait_streaming(set(harness.active))
    conid = min(harness.active)
    wait_until(lambda: len(harness.observations(conid)) >= 10, 10, message="10 observations")
    assert not harness.lake.all(WriteRows), "within the write interval nothing is handed over yet"

    observed = harness.observations(conid)  # gathered by this incarnation, and not yet written
    if ending == "crash":
        name = stream_name(conid)
        incarnation = harness.incarnation(name)
        harness.tree.faults.crash_next(name)
        harness.tree.whereis(name).tell(CheckSilence())  # any message: this one crashes it
        wait_until(lambda: harness.incarnation(name) > incarnation, 10, message="the stream restarted")
    else:
        harness.deactivate(conid)
    wait_until(lambda: _all_written(harness, observed), 5, message="the gathered observations handed over")


@pytest.mark.timeout(60)
def test_update_handlers_run_one_at_a_time_in_the_order_observations_were_made(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=20, positions=20, sim={"tick_hz": 50.0})
    running, most, order = [0], [0], []
    lock = threading.Lock()

    def slow_handler(observation: Observation) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.0005)  # long enough for another thread to come in, were handlers concurrent
        order.append(observation.event_ts)
        with lock:
            running[0] -= 1

    harness.handlers.add(slow_handler)
    harness.wait_streaming(set(harness.active))
    wait_until(lambda: len(order) >= 500, 30, message="500 updates")
    assert most[0] == 1, "handlers never run concurrently"
    assert order == sorted(order), "in the order the ticks arrived"
