"""Quiet logs under faults: a burst of the same event is one line with a count, and a condition that lasts
is logged when it starts, at growing intervals while it lasts, and when it ends.

Two small helpers, thread-safe, with an injectable clock (tests use a fake one):
- `BurstLog`: `add(message, name)` for each event of a burst, `flush()` when the burst is over (or at the
  next `add` once `window_s` has passed since the burst began): one line per distinct message, with how
  many times it happened and the first few names (`shown`). The first event of a burst is logged at once,
  so a lone event is never delayed.
- `LastingLog`: `still(key, message)` each time a condition is seen (the first call logs it; later calls
  only after `first_s`, then twice that, ... up to `max_s`, with how long and how often); `ended(key,
  message)` logs its end with the same figures, if it was going on.
Lives in `supervisors/` (which imports nothing of the application) so the supervisors' own event log can
use it; the application's actors use it too. A line is logged as its caller's (loguru's `depth`): it has
the caller's module name, and the caller's package's enable/disable applies to it.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

Clock = Callable[[], float]


@dataclass(slots=True)
class _Burst:
    began: float
    level: str
    count: int = 0
    names: list[str] = field(default_factory=list)


class BurstLog:
    """Coalesces bursts of the same message into one line with a count and the first names."""

    def __init__(
        self, level: str = "WARNING", window_s: float = 1.0, shown: int = 5, clock: Clock = time.monotonic
    ) -> None:
        self._level = level
        self._window_s = window_s
        self._shown = shown
        self._clock = clock
        self._lock = threading.Lock()
        self._bursts: dict[str, _Burst] = {}

    def add(self, message: str, name: object, level: str | None = None) -> None:
        """One event `message` about `name`: logged at once if it starts a burst, else counted; `level`
        overrides the log's own for this message."""
        now = self._clock()
        if self._is_stale(now):
            self._flush(depth=2)
        with self._lock:
            burst = self._bursts.get(message)
            first = burst is None
            if burst is None:
                burst = self._bursts[message] = _Burst(now, level or self._level)
            burst.count += 1
            if len(burst.names) < self._shown:
                burst.names.append(str(name))
        if first:
            logger.opt(depth=1).log(burst.level, "{} ({})", message, name)

    def flush(self) -> int:
        """Log one line per message seen more than once since its burst began; how many lines were logged."""
        return self._flush(depth=2)

    def flush_stale(self) -> int:
        """Flush if a burst began more than `window_s` ago (call it from any frequent event); lines logged."""
        return self._flush(depth=2) if self._is_stale(self._clock()) else 0

    def _flush(self, depth: int) -> int:
        """`flush`, its lines attributed to the frame `depth` levels up (the caller of the public method)."""
        with self._lock:
            bursts, self._bursts = self._bursts, {}
        lines = 0
        for message, burst in bursts.items():
            if burst.count > 1:
                logger.opt(depth=depth).log(burst.level, "{}", _burst_line(message, burst))
                lines += 1
        return lines

    def _is_stale(self, now: float) -> bool:
        with self._lock:
            return any(now - burst.began >= self._window_s for burst in self._bursts.values())


def _burst_line(message: str, burst: _Burst) -> str:
    more = ", …" if burst.count > len(burst.names) else ""
    return f"{message}: {burst.count} times ({', '.join(burst.names)}{more})"


@dataclass(slots=True)
class _Lasting:
    since: float
    next_at: float
    interval_s: float
    count: int = 1


class LastingLog:
    """Logs a lasting condition when it starts, at growing intervals while it lasts, and when it ends."""

    def __init__(
        self,
        level: str = "WARNING",
        first_s: float = 30.0,
        factor: float = 2.0,
        max_s: float = 900.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._level = level
        self._first_s = first_s
        self._factor = factor
        self._max_s = max_s
        self._clock = clock
        self._lock = threading.Lock()
        self._conditions: dict[object, _Lasting] = {}

    def active(self, key: object) -> bool:
        """Whether the condition `key` is going on."""
        with self._lock:
            return key in self._conditions

    def still(self, key: object, message: str, level: str | None = None) -> bool:
        """Condition `key` holds (again): log `message` if it starts or a reminder is due; True if logged."""
        now = self._clock()
        with self._lock:
            state = self._conditions.get(key)
            if state is None:
                self._conditions[key] = _Lasting(now, now + self._first_s, self._first_s)
                text = message
            else:
                state.count += 1
                if now < state.next_at:
                    return False
                state.interval_s = min(state.interval_s * self._factor, self._max_s)
                state.next_at = now + state.interval_s
                text = f"{message} (still, for {now - state.since:.0f}s, {state.count} times)"
        logger.opt(depth=1).log(level or self._level, "{}", text)
        return True

    def ended(self, key: object, message: str, level: str = "INFO") -> bool:
        """The condition `key` is over: log `message` with how long it lasted, if it was going on."""
        now = self._clock()
        with self._lock:
            state = self._conditions.pop(key, None)
        if state is None:
            return False
        text = f"{message} (after {now - state.since:.0f}s, {state.count} times)"
        logger.opt(depth=1).log(level, "{}", text)
        return True
