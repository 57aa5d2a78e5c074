"""Inline update handlers (`on_update(..., inline=True)`): called where the observation is made — for
ticks the gateway's network thread — never two at once, in order, and the same observations the queued
handlers get."""

import threading
import time
from collections.abc import Callable

import pytest

from possync.actors.streaming._handlers import StreamHandlers
from possync.messages.domain import Contract, Observation, Source, utc_now
from tests.helpers import captured_log, wait_until
from tests.streaming.support import Harness

AAPL = Contract(265598, "AAPL", "STK")


def row(oid: int, account: str = "DU1") -> Observation:
    return Observation(account, AAPL, float(oid), 150.0, 151.0, Source.STREAM, utc_now())


@pytest.mark.timeout(10)
def test_deliver_calls_inline_handlers_in_the_calling_thread_and_says_whether_to_queue() -> None:
    handlers = StreamHandlers()
    assert handlers.deliver([row(1)]) is False  # nobody wants it: the dispatcher is not even told
    seen: list[tuple[str, float]] = []
    remove = handlers.add(lambda o: seen.append((threading.current_thread().name, o.position)), inline=True)
    assert handlers.deliver([row(1), row(2)]) is False  # inline only: still nothing to queue
    queued: list[Observation] = []
    handlers.add(queued.append)
    assert handlers.deliver([row(3)]) is True
    remove()
    assert handlers.deliver([row(4)]) is True

    me = threading.current_thread().name
    assert seen == [(me, 1.0), (me, 2.0), (me, 3.0)]
    assert queued == []  # queued handlers run only in the dispatcher (`dispatch`)


@pytest.mark.timeout(10)
def test_inline_handlers_never_run_at_once_and_a_failing_one_is_logged_and_skipped() -> None:
    handlers = StreamHandlers()
    running = {"now": 0, "most": 0}
    seen: list[Observation] = []

    def slowish(observation: Observation) -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        time.sleep(0.001)  # widen the window in which a second call would overlap
        seen.append(observation)
        running["now"] -= 1

    def failing(observation: Observation) -> None:
        raise RuntimeError("handler bug")

    handlers.add(failing, inline=True)
    handlers.add(slowish, inline=True)
    producers = [
        threading.Thread(target=lambda n=n: [handlers.deliver([row(i, f"DU{n}")]) for i in range(20)])
        for n in range(4)
    ]
    with captured_log("ERROR") as lines:
        for producer in producers:
            producer.start()
        for producer in producers:
            producer.join(5)

    assert running["most"] == 1
    for n in range(4):  # each producer's order kept
        assert [o.position for o in seen if o.account == f"DU{n}"] == [float(i) for i in range(20)]
    assert len(lines) == 80
    assert all(line.startswith("stream handler") and "failed on conid 265598" in line for line in lines)


@pytest.mark.timeout(60)
def test_inline_handlers_get_ticks_in_the_network_thread_and_the_same_rows_as_queued_ones(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=3, positions=10, sim={"tick_hz": 20.0})
    inline: list[tuple[str, Observation]] = []
    harness.handlers.add(lambda o: inline.append((threading.current_thread().name, o)), inline=True)
    harness.wait_streaming(set(harness.active))
    wait_until(lambda: len(inline) >= 30, 20, message="30 streamed observations reached the inline handler")

    taken = [observation for _, observation in inline[:30]]
    network = {name for name, _ in inline[:30]}
    assert len(network) == 1 and next(iter(network)).endswith("-ib-loop"), network

    def queued_caught_up() -> bool:
        return any(o is taken[-1] for o in harness.observed.all(Observation))

    wait_until(queued_caught_up, 10, message="the dispatcher's handler got the same rows")
    queued = harness.observed.all(Observation)
    last = next(i for i, o in enumerate(queued) if o is taken[-1])
    assert all(a is b for a, b in zip(queued[last - 29 : last + 1], taken, strict=True))
