"""The supervision event log: a thread-safe, bounded record of what every supervisor did.

Tests read it as their oracle (`tree.events.all()`), metrics subscribe to it. Each event is a frozen
msgspec Struct stamped with the tree's clock; `supervisor` is "tree" for the root supervisor itself.
"""

import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum

import msgspec
from loguru import logger

from possync.supervisors.clock import Clock
from possync.supervisors.quiet_log import LastingLog

TREE = "tree"
"""The `supervisor` of events about the root supervisor, which the tree itself starts and stops."""


class EventKind(StrEnum):
    """What happened to a child (or, for the last three, to the supervisor itself)."""

    STARTED = "started"  # an incarnation finished its on_start
    START_FAILED = "start_failed"  # an incarnation failed (or timed out) in its constructor or on_start
    EXITED = "exited"  # an incarnation ended on its own (its exit notice)
    STOPPED = "stopped"  # the supervisor stopped it on purpose (strategy, shutdown, StopChild)
    ABANDONED = "abandoned"  # it did not stop in time: marked dead, leases released from outside
    BACKOFF = "backoff"  # its restart is delayed by `delay_s`
    RESTARTING = "restarting"  # the ended incarnation is about to be replaced by a new one
    MAX_INTENSITY = "max_intensity"  # the supervisor's restart intensity was exceeded
    PARKED = "parked"  # the supervisor stopped its children and retries them after `delay_s`
    ESCALATED = "escalated"  # the supervisor exits abnormally so that its parent decides


LOG_LEVELS = {
    EventKind.STARTED: "DEBUG",
    EventKind.STOPPED: "DEBUG",
    EventKind.BACKOFF: "DEBUG",
    EventKind.START_FAILED: "INFO",
    EventKind.EXITED: "INFO",
    EventKind.RESTARTING: "INFO",
    EventKind.ABANDONED: "WARNING",
    EventKind.MAX_INTENSITY: "WARNING",
    EventKind.PARKED: "WARNING",
    EventKind.ESCALATED: "ERROR",
}
"""The log level of each kind: routine starts and stops stay out of an INFO log; failures do not."""


class SupervisionEvent(msgspec.Struct, frozen=True):
    """One supervision event; `incarnation` is the child's, `at` the tree clock's time."""

    kind: EventKind
    supervisor: str
    child: str
    incarnation: int
    at: float
    reason: str = ""
    delay_s: float | None = None


class EventLog:
    """Thread-safe log of the last `capacity` events, with synchronous subscribers."""

    def __init__(self, clock: Clock, capacity: int = 10_000) -> None:
        self._clock = clock
        self._events: deque[SupervisionEvent] = deque(maxlen=capacity)
        self._subscribers: list[Callable[[SupervisionEvent], None]] = []
        self._lock = threading.Lock()
        self._failing = LastingLog(level="INFO", first_s=30.0, max_s=900.0)

    def _log(self, event: SupervisionEvent) -> None:
        """One sentence per event; a child failing to start (or a supervisor parking) again and again is one
        line when it begins, at growing intervals while it lasts, and one when the child starts again."""
        key = (event.supervisor, event.child)
        level = LOG_LEVELS[event.kind]
        if event.kind is EventKind.START_FAILED:
            self._failing.still(key, describe(event), level)
        elif event.kind in (EventKind.MAX_INTENSITY, EventKind.PARKED):
            self._failing.still((event.supervisor, event.kind), describe(event), level)
        elif event.kind is EventKind.STARTED:
            self._started(event)
        elif event.kind in (EventKind.RESTARTING, EventKind.BACKOFF) and self._failing.active(key):
            logger.debug("{}", describe(event))
        else:
            logger.log(level, "{}", describe(event))

    def _started(self, event: SupervisionEvent) -> None:
        for kind in (EventKind.MAX_INTENSITY, EventKind.PARKED):
            self._failing.ended((event.supervisor, kind), "", level="DEBUG")
        if not self._failing.ended((event.supervisor, event.child), f"{describe(event)} again"):
            logger.debug("{}", describe(event))

    def record(
        self,
        kind: EventKind,
        supervisor: str,
        child: str,
        incarnation: int,
        reason: str = "",
        delay_s: float | None = None,
    ) -> SupervisionEvent:
        """Stamp, store, log and publish an event; a failing subscriber is logged and skipped."""
        event = SupervisionEvent(kind, supervisor, child, incarnation, self._clock.now(), reason, delay_s)
        with self._lock:
            self._events.append(event)
            subscribers = list(self._subscribers)
        self._log(event)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber {} failed", subscriber)
        return event

    def all(self) -> list[SupervisionEvent]:
        """Every stored event, oldest first."""
        with self._lock:
            return list(self._events)

    def subscribe(self, subscriber: Callable[[SupervisionEvent], None]) -> Callable[[], None]:
        """Call `subscriber(event)` for each new event (in the emitting thread; keep it quick).

        Returns a function that unsubscribes it.
        """
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            """Stop calling the subscriber."""
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe


def describe(event: SupervisionEvent) -> str:
    """The event as one sentence, e.g. "session: connection (incarnation 3) failed to start: …"."""
    who = f"{event.supervisor}: {event.child} (incarnation {event.incarnation})"
    reason = f": {event.reason}" if event.reason else ""
    delay = f"{event.delay_s:.1f}s" if event.delay_s is not None else "a while"
    sentences = {
        EventKind.STARTED: f"{who} started",
        EventKind.START_FAILED: f"{who} failed to start{reason}",
        EventKind.EXITED: f"{who} exited{reason or ' normally'}",
        EventKind.STOPPED: f"{who} stopped{reason}",
        EventKind.ABANDONED: f"{who} did not stop in time and was abandoned{reason}",
        EventKind.BACKOFF: f"{who} restarts in {delay}{reason}",
        EventKind.RESTARTING: f"{who} is restarted{reason}",
        EventKind.MAX_INTENSITY: f"{event.supervisor}: too many restarts of {event.child}{reason}",
        EventKind.PARKED: f"{event.supervisor}: parked, its children are tried again in {delay}{reason}",
        EventKind.ESCALATED: f"{event.supervisor}: gives up and escalates to its parent{reason}",
    }
    return "supervision: " + sentences[event.kind]
