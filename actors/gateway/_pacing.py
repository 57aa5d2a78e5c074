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
        return self._refilled(self._clock()) >= 1.0

    def _refilled(self, now: float) -> float:
        """The tokens at `now`: those left, plus the refill since the last reservation, up to `burst`."""
        return min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)

    def reserve(self) -> float:
        """Take a token; return the seconds to wait before sending (0.0 when one was available).

        Tokens are reserved ahead: a caller that gets a delay must send only after it, and the next
        caller's delay already counts this one.
        """
        now = self._clock()
        self._tokens = self._refilled(now)
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
    """Everything sent to the gateway waits for a token of one bucket, in order of `Priority`; and never
    more than `unanswered_max` requests go out after the gateway last sent anything: past that the pacer
    pings (`send_ping`: reqCurrentTime) and holds every request but `Priority.CONTROL` ones until the
    gateway sends anything, so a gateway that stopped reading (hung) never reads a burst when it wakes up.

    Lives in the session's loop thread (its events are asyncio ones).
    """

    def __init__(
        self, rate_per_s: float, unanswered_max: int, send_ping: Callable[[], None] = lambda: None
    ) -> None:
        self.bucket = TokenBucket(rate_per_s)
        self.unanswered_max = unanswered_max
        self.unanswered = 0
        """Requests sent since the gateway last sent anything."""
        self.heard = asyncio.Event()
        """Set whenever anything comes from the gateway."""
        self._send_ping = send_ping
        self._pinged = False  # a ping went out since the gateway last sent anything
        self._wake = asyncio.Event()  # the gateway sent something, or a CONTROL request arrived
        self._by_priority: list[_Waiter] = []  # a heap: (priority, arrival, future)
        self._by_age: deque[_Waiter] = deque()  # the same waiters, oldest first
        self._arrivals = itertools.count()
        self._served = 0
        self._dispenser: asyncio.Task[None] | None = None

    async def token(self, priority: Priority = Priority.LINES) -> None:
        """Wait for a token: at once if one is free and nobody waits, else in the order of `priority`."""
        held = self.must_ping and priority > Priority.CONTROL
        if not held and not self._waiting() and self.bucket.ready():
            self.bucket.reserve()
            return
        waiter = (priority, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(self._by_priority, waiter)
        self._by_age.append(waiter)
        if priority == Priority.CONTROL:
            self._wake.set()
        if self._dispenser is None or self._dispenser.done():
            self._dispenser = asyncio.get_running_loop().create_task(self._dispense())
        await waiter[2]

    def sent(self) -> None:
        """A request went out."""
        self.unanswered += 1

    def heard_from_gateway(self) -> None:
        """Something came from the gateway: it reads again."""
        self.unanswered = 0
        self._pinged = False
        self.heard.set()
        self._wake.set()

    @property
    def must_ping(self) -> bool:
        """True when requests wait for the gateway to answer a ping (too many are unanswered)."""
        return self.unanswered >= self.unanswered_max

    async def _dispense(self) -> None:
        """Hand out one token at a time, each to the best waiter when it is due."""
        while self._waiting():
            if self._held():
                await self._ping_and_wait()
                continue
            delay = self.bucket.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._waiting() and not self._held():  # else the token is lost: the gateway decides now
                self._hand_out()
                await asyncio.sleep(0)  # the waiter sends (and counts it) before the next decision

    def _held(self) -> bool:
        """Whether the best waiter must wait for the gateway (too many unanswered, and not CONTROL)."""
        return self.must_ping and self._by_priority[0][0] > Priority.CONTROL

    async def _ping_and_wait(self) -> None:
        """Ping once, then wait until the gateway sends anything or a CONTROL request arrives."""
        self._wake.clear()
        if not self._pinged:
            self._pinged = True
            delay = self.bucket.reserve()
            if delay > 0:
                await asyncio.sleep(delay)
            self._send_ping()
            self.sent()
        await self._wake.wait()

    def _hand_out(self) -> None:
        """The token to the best waiter; every `OLDEST_EVERY`th to the longest waiter (not while held)."""
        self._served += 1
        oldest = self._served % OLDEST_EVERY == 0 and not self.must_ping
        _, _, future = self._by_age.popleft() if oldest else heapq.heappop(self._by_priority)
        future.set_result(None)

    def _waiting(self) -> bool:
        """Whether anyone waits (a served or cancelled waiter is dropped from the other order too)."""
        while self._by_priority and self._by_priority[0][2].done():
            heapq.heappop(self._by_priority)
        while self._by_age and self._by_age[0][2].done():
            self._by_age.popleft()
        return bool(self._by_priority)
