"""Inline update handlers (`on_update(..., inline=True)`): called where the observation is made — for
ticks the gateway's network thread — never two at once, in order, and the same observations the queued
handlers get."""

import threading
from collections.abc import Callable

import pytest

from possync.actors.streaming._handlers import StreamHandlers
from possync.messages.domain import Contract, Observation, Source, utc_now
from tests.helpers import captured_log, holds_throughout, wait_until
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
def test_an_inline_handler_running_in_one_thread_holds_back_a_second_producer() -> None:
    handlers = StreamHandlers()
    entered = threading.Event()
    go_on = threading.Event()
    seen: list[tuple[str, float]] = []

    def blocking(observation: Observation) -> None:
        seen.append((observation.account, observation.position))
        entered.set()
        go_on.wait(5)

    handlers.add(blocking, inline=True)
    first = threading.Thread(target=handlers.deliver, args=([row(1, "DU1")],))
    second = threading.Thread(target=handlers.deliver, args=([row(2, "DU2"), row(3, "DU2")],))
    first.start()
    wait_until(entered.is_set, 5, message="the first producer's call is running")
    second.start()
    holds_throughout(lambda: seen == [("DU1", 1.0)], 0.2, "no second call while the first one runs")

    go_on.set()
    first.join(5)
    second.join(5)
    assert seen == [("DU1", 1.0), ("DU2", 2.0), ("DU2", 3.0)]  # then the second producer's, in its order


@pytest.mark.timeout(10)
def test_a_failing_inline_handler_is_logged_and_skipped() -> None:
    handlers = StreamHandlers()
    seen: list[Observation] = []

    def failing(observation: Observation) -> None:
        raise RuntimeError("handler bug")

    handlers.add(failing, inline=True)
    handlers.add(seen.append, inline=True)
    with captured_log("ERROR") as lines:
        handlers.deliver([row(1), row(2)])

    assert [o.position for o in seen] == [1.0, 2.0]
    assert len(lines) == 2
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
