"""A client's message rate as IB limits it: `rate` messages per second, bursts of up to `rate` allowed."""

import time


class MessageRate:
    """A token bucket: `rate` tokens, refilled at `rate` per second, one spent per message.

    A bucket rather than a sliding one-second window: a client pacing itself just under the limit
    (ib_insync sends 45 per second) must not be flagged because network or scheduling jitter bunched
    two of its batches together.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._tokens = float(rate)
        self._last = time.monotonic()

    def admit(self) -> bool:
        """Spend a token for one message now; False when the client is above the rate."""
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
