"""The token bucket: never more than `burst + rate * T` requests in any window of T seconds."""

import asyncio
import random
from collections.abc import Coroutine
from typing import Any

import pytest

from possync.actors.gateway._pacing import OLDEST_EVERY, Pacer, Priority, TokenBucket


class _FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _send_times(bucket: TokenBucket, clock: _FakeTime, call_gaps: list[float]) -> list[float]:
    """Drive the bucket as the connection's drain loop does: reserve, wait the delay, send, repeat."""
    sent = []
    for gap in call_gaps:
        clock.now += gap
        clock.now += bucket.reserve()
        sent.append(clock.now)
    return sent


def _max_in_window(times: list[float], window: float) -> int:
    most, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window + 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.timeout(10)
@pytest.mark.parametrize("seed", range(20))
def test_no_window_exceeds_burst_plus_rate(seed: int) -> None:
    rng = random.Random(seed)
    clock = _FakeTime()
    rate, burst = rng.choice([(45.0, 1), (45.0, 4), (10.0, 3), (100.0, 1)])
    bucket = TokenBucket(rate, burst, clock)
    gaps = [rng.choice([0.0, 0.0, 0.001, rng.random() / 5, rng.random() * 2]) for _ in range(2000)]
    sent = _send_times(bucket, clock, gaps)
    assert _max_in_window(sent, 1.0) <= burst + rate


@pytest.mark.timeout(10)
def test_a_storm_of_100_requests_is_spread_at_the_rate() -> None:
    clock = _FakeTime()
    bucket = TokenBucket(45.0, 1, clock)
    sent = _send_times(bucket, clock, [0.0] * 100)
    assert sent[0] == 0.0
    assert sent[-1] == pytest.approx(99 / 45)
    assert bucket.delayed == 99


@pytest.mark.timeout(10)
def test_an_idle_bucket_refills_only_up_to_burst() -> None:
    clock = _FakeTime()
    bucket = TokenBucket(10.0, 3, clock)
    clock.now = 100.0
    delays = [bucket.reserve() for _ in range(4)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3] == pytest.approx(0.1)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (10.0, 0)])
def test_bad_parameters_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate, burst)


def _served_order(requests: list[tuple[str, Priority]], rate: float = 200.0) -> list[str]:
    """The names of `requests`, all waiting at once on a fresh pacer, in the order they got their token."""
    order: list[str] = []

    async def ask(name: str, priority: Priority) -> None:
        await pacer.token(priority)
        order.append(name)

    async def main() -> None:
        nonlocal pacer
        pacer = Pacer(rate, unanswered_max=1000)
        pacer.bucket.reserve()  # the first token is gone: everyone below must wait
        await asyncio.gather(*(ask(name, priority) for name, priority in requests))

    pacer: Pacer
    _run(main())
    return order


def test_lines_go_before_the_line_free_requests_that_waited_longer() -> None:
    requests = [(f"pnl{i}", Priority.PNL) for i in range(8)] + [
        (f"line{i}", Priority.LINES) for i in range(3)
    ]
    requests.append(("ping", Priority.CONTROL))

    order = _served_order(requests)

    assert order[:4] == ["ping", "line0", "line1", "line2"]
    assert sorted(order) == sorted(name for name, _ in requests)


def test_every_fifth_token_goes_to_the_longest_waiter_so_nothing_starves() -> None:
    requests = [("snapshot", Priority.SNAPSHOTS)] + [(f"line{i}", Priority.LINES) for i in range(12)]

    order = _served_order(requests)

    assert order.index("snapshot") == OLDEST_EVERY - 1
    assert [name for name in order if name != "snapshot"] == [f"line{i}" for i in range(12)]


def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    served: list[str] = []

    async def main() -> None:
        pacer = Pacer(100.0, unanswered_max=1000)
        pacer.bucket.reserve()

        async def ask(name: str) -> None:
            await pacer.token(Priority.LINES)
            served.append(name)

        first = asyncio.ensure_future(ask("cancelled"))
        second = asyncio.ensure_future(ask("next"))
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.wait_for(second, 1.0)

    _run(main())
    assert served == ["next"]


def test_past_the_unanswered_maximum_requests_wait_for_the_gateway_and_one_ping_goes_out() -> None:
    """A gateway that stopped reading must not read a burst when it wakes up (error 100)."""
    pings: list[int] = []
    sent: list[str] = []

    async def main() -> None:
        pacer = Pacer(1000.0, unanswered_max=3, send_ping=lambda: pings.append(1))

        async def ask(name: str, priority: Priority = Priority.LINES) -> None:
            await pacer.token(priority)
            pacer.sent()
            sent.append(name)

        asks = [asyncio.ensure_future(ask(f"line{i}")) for i in range(5)]
        await asyncio.sleep(0.05)
        assert sent == ["line0", "line1", "line2"] and pings == [1]  # held: one ping, nothing more
        await asyncio.wait_for(ask("probe", Priority.CONTROL), 1.0)  # the link's own requests pass
        assert sent[-1] == "probe" and pings == [1]
        pacer.heard_from_gateway()
        await asyncio.wait_for(asyncio.gather(*asks), 1.0)

    _run(main())
    assert sent == ["line0", "line1", "line2", "probe", "line3", "line4"]


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on a loop of its own, leaving the thread's event loop alone (`asyncio.run` would unset
    it, and the IB client's blocking calls in later tests need one in the main thread)."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main)
    finally:
        loop.close()
