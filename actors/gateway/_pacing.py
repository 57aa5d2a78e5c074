"""Request pacing: a token bucket that spaces requests to the gateway below IB's message-rate limit,
and the session's `Pacer` (the bucket, and the ping a gateway must answer before more requests go out).

IB allows about 50 messages per second per client (error 100 beyond it, and a disconnect if it goes on).
The bucket grants `rate_per_s` requests per second on average and at most `burst` back to back, so any
window of T seconds holds at most `burst + rate_per_s * T` requests. It is pure: time comes from an
injectable clock, and `reserve()` only says how long the caller must wait.
"""

import asyncio
import time
from collections.abc import Callable
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

    async def token(self) -> None:
        """Wait for the next token."""
        delay = self.bucket.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

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
        await self.token()
        ib.client.reqCurrentTime()
        self.sent()
        await self.heard.wait()
