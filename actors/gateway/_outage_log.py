"""Logging of a gateway outage without spam: one clear WARNING, quiet retries, a periodic reminder.

One `OutageLog` outlives the ConnectionActor's incarnations (the session spec holds it), so the first
failed attempt after a success is a WARNING that says where and what to check, the retries that follow
are DEBUG, a WARNING reminder comes every `remind_every_s`, and the next success says how long it took.
"""

import threading
import time
from collections.abc import Callable

from loguru import logger


class OutageLog:
    """Counts failed connection attempts since the last success and logs them sparingly."""

    def __init__(self, remind_every_s: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._remind_every_s = remind_every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._since = 0.0
        self._reminded = 0.0

    @property
    def failures(self) -> int:
        """Failed attempts since the last success."""
        return self._failures

    def failed(self, error: BaseException) -> None:
        """Record a failed attempt and log it: WARNING the first time, then DEBUG with a periodic reminder."""
        now = self._clock()
        with self._lock:
            self._failures += 1
            first = self._failures == 1
            if first:
                self._since = self._reminded = now
            remind = not first and now - self._reminded >= self._remind_every_s
            if remind:
                self._reminded = now
            failures, down_s = self._failures, now - self._since
        if first:
            logger.warning("{}; retrying with backoff", error)
        elif remind:
            logger.warning("still no gateway after {} attempts over {:.0f}s: {}", failures, down_s, error)
        else:
            logger.debug("connection attempt {} failed: {}", failures, error)

    def connected(self, where: str) -> None:
        """Record a success and log it, with the length of the outage it ends, if any."""
        now = self._clock()
        with self._lock:
            failures, down_s = self._failures, now - self._since
            self._failures = 0
        if failures:
            logger.info("connected to {} after {} failed attempts over {:.0f}s", where, failures, down_s)
        else:
            logger.info("connected to {}", where)
