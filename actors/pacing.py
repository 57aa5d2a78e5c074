"""Request pacing: a token bucket that spaces requests to the gateway below IB's message-rate limit.

IB allows about 50 messages per second per client (error 100 beyond it, and a disconnect if it goes on).
The bucket grants `rate_per_s` requests per second on average and at most `burst` back to back, so any
window of T seconds holds at most `burst + rate_per_s * T` requests. It is pure: time comes from an
injectable clock, and `reserve()` only says how long the caller must wait.
"""

import time
from collections.abc import Callable


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
