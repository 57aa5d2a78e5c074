"""Restart intensity: at most `limit` restarts in a sliding window of `period_s` seconds (OTP semantics)."""

from collections import deque


class RestartIntensity:
    """Counts one supervisor's restarts; a restart beyond `limit` within `period_s` is refused."""

    def __init__(self, limit: int, period_s: float) -> None:
        self.limit = limit
        self.period_s = period_s
        self._restarts: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at `now`; False if that makes more than `limit` within the last `period_s`."""
        while self._restarts and now - self._restarts[0] > self.period_s:
            self._restarts.popleft()
        self._restarts.append(now)
        return len(self._restarts) <= self.limit

    def reset(self) -> None:
        """Forget every recorded restart."""
        self._restarts.clear()
