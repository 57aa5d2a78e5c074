"""Request pacing: a token bucket that spaces requests to the gateway below IB's message-rate limit,
and the session's `Pacer` (the bucket, and the ping a gateway must answer before more requests go out).

IB allows about 50 messages per second per client (error 100 beyond it, and a disconnect if it goes on).
The bucket grants `rate_per_s` requests per second on average and at most `burst` back to back, so any
window of T seconds holds at most `burst + rate_per_s * T` requests. It is pure: time comes from an
injectable clock, and `reserve()` only says how long the caller must wait.

The session's requests share the one bucket, so they wait in order of `Priority`: what keeps the link
healthy first, then the lines of active contracts, and the many line-free requests (snapshots, P&L) last,
so after a reconnect the streams are back at the pacing floor instead of behind 500 P&L subscriptions.
Every `OLDEST_EVERY`th token goes to the longest waiter whatever its priority: nothing starves.
"""

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any


class TokenBucket:
    """A token bucket of `burst` tokens refilled at `rate_per_s`; each request takes one token."""

    def __init__(
        self, rate_per_s: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s={rate_per_s!r}: must be positive")
        if burst < 1:
            raise ValueError(f"burst={burst!r}: must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self.delayed = 0
        """How many requests had to wait for a token (a pacing delay), since construction."""

    def ready(self) -> bool:
        """Whether a token is available now (nothing is taken)."""
        elapsed = self._clock() - self._stamp
        return min(float(self.burst), self._tokens + elapsed * self.rate_per_s) >= 1.0

    def reserve(self) -> float:
        """Take a token; return the seconds to wait before sending (0.0 when one was available).

        Tokens are reserved ahead: a caller that gets a delay must send only after it, and the next
        caller's delay already counts this one.
        """
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now
        self._tokens -= 1.0
        if self._tokens >= 0.0:
            return 0.0
        self.delayed += 1
        return -self._tokens / self.rate_per_s


class Priority(IntEnum):
    """Who gets the next token first (the lowest value)."""

    CONTROL = 0  # pings, the market data type, the silence probe: a handful, and the link depends on them
    LINES = 1  # market-data lines of active contracts (subscribe, cancel) and the account subscriptions
    DETAILS = 2  # contract details: conid-only activations and trading hours of the streams
    SNAPSHOTS = 3  # the poller's snapshots (each holds a lent line while it runs)
    PNL = 4  # reqPnLSingle subscriptions: line-free, they stream by themselves once sent


OLDEST_EVERY = 10
"""Every 10th token goes to the longest waiter, whatever its priority (no request waits forever)."""

_Waiter = tuple[int, int, asyncio.Future[None]]


class Pacer:
    """Everything sent to the gateway waits for a token of one bucket; and never more than `unanswered_max`
    requests go out after the gateway last sent anything: past that a ping (reqCurrentTime) must be
    answered first, so a gateway that stopped reading (hung) never reads a burst when it wakes up.

    Lives in the session's loop thread (its event is an asyncio one).
    """

    def __init__(self, rate_per_s: float, unanswered_max: int) -> None:
        self.bucket = TokenBucket(rate_per_s)
        self.unanswered_max = unanswered_max
        self.unanswered = 0
        """Requests sent since the gateway last sent anything."""
        self.heard = asyncio.Event()
        """Set whenever anything comes from the gateway."""
        self._by_priority: list[_Waiter] = []  # a heap: (priority, arrival, future)
        self._by_age: deque[_Waiter] = deque()  # the same waiters, oldest first
        self._arrivals = itertools.count()
        self._served = 0
        self._dispenser: asyncio.Task[None] | None = None

    async def token(self, priority: Priority = Priority.LINES) -> None:
        """Wait for a token: at once if one is free and nobody waits, else in the order of `priority`."""
        if not self._waiting() and self.bucket.ready():
            self.bucket.reserve()
            return
        waiter = (priority, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(self._by_priority, waiter)
        self._by_age.append(waiter)
        if self._dispenser is None or self._dispenser.done():
            self._dispenser = asyncio.get_running_loop().create_task(self._dispense())
        await waiter[2]

    async def _dispense(self) -> None:
        """Hand out one token at a time, each to the best waiter when it is due."""
        while self._waiting():
            delay = self.bucket.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
            self._served += 1
            oldest = self._served % OLDEST_EVERY == 0
            if self._waiting():
                _, _, future = self._by_age.popleft() if oldest else heapq.heappop(self._by_priority)
                future.set_result(None)

    def _waiting(self) -> bool:
        """Whether anyone waits (a served or cancelled waiter is dropped from the other order too)."""
        while self._by_priority and self._by_priority[0][2].done():
            heapq.heappop(self._by_priority)
        while self._by_age and self._by_age[0][2].done():
            self._by_age.popleft()
        return bool(self._by_priority)

    def sent(self) -> None:
        """A request went out."""
        self.unanswered += 1

    def heard_from_gateway(self) -> None:
        """Something came from the gateway: it reads again."""
        self.unanswered = 0
        self.heard.set()

    @property
    def must_ping(self) -> bool:
        """True when the next request must wait for the gateway to answer a ping."""
        return self.unanswered >= self.unanswered_max

    async def ping(self, ib: Any) -> None:
        """Ask the gateway the time and wait until it sends anything (it may be hung: then we wait)."""
        self.heard.clear()
        await self.token(Priority.CONTROL)
        ib.client.reqCurrentTime()
        self.sent()
        await self.heard.wait()
