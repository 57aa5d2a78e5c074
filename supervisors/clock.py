"""Clocks and timer schedulers: real ones for the service, fake ones that tests advance by hand.

Supervisors read time from `tree.clock` and delay restarts with `tree.scheduler.schedule(delay_s, fn)`.
Timer callbacks run in the scheduler's thread (ThreadScheduler) or in the thread that calls
`FakeScheduler.advance` (tests): they must only *tell* actors, never block.
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol

from loguru import logger


class Clock(Protocol):
    """A monotonic source of seconds."""

    def now(self) -> float:
        """The current time in seconds (only differences are meaningful)."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic()`."""

    def now(self) -> float:
        """The current monotonic time in seconds."""
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to (through `advance`, usually by a FakeScheduler)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current fake time in seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds` (no timers fire: use FakeScheduler.advance for that)."""
        if seconds < 0:
            raise ValueError(f"advance(seconds={seconds!r}): time only moves forward")
        with self._lock:
            self._now += seconds

    def advance_to(self, when: float) -> None:
        """Move time forward to `when` exactly (no effect if it is already later)."""
        with self._lock:
            self._now = max(self._now, when)


class Timer:
    """A scheduled callback; `cancel()` keeps it from running if it has not run yet."""

    __slots__ = ("cancelled", "due", "fn", "seq")

    def __init__(self, due: float, seq: int, fn: Callable[[], None]) -> None:
        self.due = due
        self.seq = seq
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Keep the callback from running (no effect once it has run)."""
        self.cancelled = True

    def __lt__(self, other: "Timer") -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Scheduler(Protocol):
    """Runs callbacks after a delay measured on its `clock`."""

    clock: Clock

    def schedule(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        """Run `fn` once, `delay_s` seconds from now; it must only tell actors."""
        ...

    def close(self) -> None:
        """Drop every pending timer and stop running callbacks."""
        ...


class _TimerHeap:
    """Timers ordered by due time, shared by both schedulers (callers hold their own lock)."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def push(self, due: float, fn: Callable[[], None]) -> Timer:
        """Add a timer due at `due`."""
        timer = Timer(due, next(self._seq), fn)
        heapq.heappush(self._heap, timer)
        return timer

    def next_due(self) -> float | None:
        """The due time of the first live timer (dropping cancelled ones), or None."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def first(self) -> Timer | None:
        """The timer at the head of the heap (it may be cancelled), or None."""
        return self._heap[0] if self._heap else None

    def pop(self) -> Timer:
        """Remove and return the first timer."""
        return heapq.heappop(self._heap)

    def clear(self) -> None:
        """Drop every timer."""
        self._heap.clear()

    def __len__(self) -> int:
        return sum(not timer.cancelled for timer in self._heap)


def _run(timer: Timer) -> None:
    if timer.cancelled:
        return
    try:
        timer.fn()
    except Exception:
        logger.exception("timer callback {} failed", timer.fn)


def _check_delay(delay_s: float) -> None:
    if delay_s < 0:
        raise ValueError(f"schedule(delay_s={delay_s!r}): a delay cannot be negative")


class ThreadScheduler:
    """Real timers on one daemon thread, started at construction and stopped by `close()`."""

    def __init__(self) -> None:
        self.clock: Clock = MonotonicClock()
        self._timers = _TimerHeap()
        self._wakeup = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="supervision-timers", daemon=True)
        self._thread.start()

    def schedule(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        """Run `fn` in the timer thread once, `delay_s` seconds from now."""
        _check_delay(delay_s)
        with self._wakeup:
            timer = self._timers.push(self.clock.now() + delay_s, fn)
            if self._timers.first() is timer:  # a later timer needs no wake-up: the loop waits for the first
                self._wakeup.notify()
        return timer

    def close(self, timeout_s: float = 1.0) -> None:
        """Drop pending timers and join the timer thread (a callback running now is waited for)."""
        with self._wakeup:
            self._closed = True
            self._timers.clear()
            self._wakeup.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            with self._wakeup:
                timer = self._next_timer()
                if timer is None:
                    return
            _run(timer)

    def _next_timer(self) -> Timer | None:
        """Wait (holding the condition) until a timer is due and pop it; None once closed."""
        while not self._closed:
            due = self._timers.next_due()
            now = self.clock.now()
            if due is not None and due <= now:
                return self._timers.pop()
            self._wakeup.wait(None if due is None else due - now)
        return None


class FakeScheduler:
    """Timers on a FakeClock that fire only when a test calls `advance(seconds)`, in the test's thread."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock: FakeClock = clock or FakeClock()
        self._timers = _TimerHeap()
        self._lock = threading.Lock()

    def schedule(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        """Run `fn` once the fake clock has been advanced by `delay_s` seconds."""
        _check_delay(delay_s)
        with self._lock:
            return self._timers.push(self.clock.now() + delay_s, fn)

    def pending(self) -> int:
        """How many timers are waiting (cancelled ones excluded)."""
        with self._lock:
            return len(self._timers)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`, firing due timers in order, each at its own due time."""
        if seconds < 0:
            raise ValueError(f"advance(seconds={seconds!r}): time only moves forward")
        target = self.clock.now() + seconds
        while True:
            with self._lock:
                due = self._timers.next_due()
                if due is None or due > target:
                    break
                timer = self._timers.pop()
            self.clock.advance_to(timer.due)
            _run(timer)
        self.clock.advance_to(target)

    def close(self) -> None:
        """Drop every pending timer."""
        with self._lock:
            self._timers.clear()
