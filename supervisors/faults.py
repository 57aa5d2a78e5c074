"""Fault injection by actor name: a product feature for chaos runs and tests (later exposed over HTTP).

Each tree has one `Faults` (`tree.faults`); every SupervisedActor of the tree consults it before its
on_start and before each message it takes from its inbox (except the supervisor's start probe, Ping):

- `crash_next(name)`: the next message of `name` raises InjectedFault instead of being handled (a tell
  then crashes the actor; an ask returns the error to the caller, unless the actor opted in to crash).
- `fail_start(name, times=1)`: the next `times` starts of `name` fail with InjectedFault before on_start.
- `hang(name, seconds=None)`: the next message of `name` blocks until `release()` (or for `seconds`), then
  is handled normally. A hung actor also ignores its stop, so its supervisor abandons it on shutdown.
- `release()`: unblock every hang and disarm pending ones (the tree does this when it stops).
- `clear()`: disarm everything pending and release every hang.

All methods are thread-safe.
"""

import threading
from collections import Counter

from possync.supervisors.errors import InjectedFault


class Faults:
    """Pending crash/start-failure/hang injections, keyed by actor name (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._crashes: set[str] = set()
        self._start_failures: Counter[str] = Counter()
        self._hangs: dict[str, float | None] = {}
        self._blocked: set[threading.Event] = set()

    def crash_next(self, name: str) -> None:
        """Make the next message of `name` raise InjectedFault."""
        with self._lock:
            self._crashes.add(name)

    def fail_start(self, name: str, times: int = 1) -> None:
        """Make the next `times` starts of `name` fail with InjectedFault before its on_start runs."""
        if times < 1:
            raise ValueError(f"fail_start(times={times!r}): times must be at least 1")
        with self._lock:
            self._start_failures[name] += times

    def hang(self, name: str, seconds: float | None = None) -> None:
        """Make the next message of `name` block until `release()`, or for `seconds` if given."""
        if seconds is not None and seconds <= 0:
            raise ValueError(
                f"hang(seconds={seconds!r}): seconds must be positive, or None for until release"
            )
        with self._lock:
            self._hangs[name] = seconds

    def release(self) -> None:
        """Unblock every hung actor and disarm the hangs not yet triggered."""
        with self._lock:
            self._hangs.clear()
            blocked, self._blocked = self._blocked, set()
        for event in blocked:
            event.set()

    def clear(self) -> None:
        """Disarm every pending injection and release every hang."""
        with self._lock:
            self._crashes.clear()
            self._start_failures.clear()
        self.release()

    def before_start(self, name: str) -> None:
        """Hook run by an actor before its on_start: raises InjectedFault if a start failure is armed."""
        with self._lock:
            if not self._start_failures[name]:
                return
            self._start_failures[name] -= 1
        raise InjectedFault(f"start of {name!r} failed by fault injection")

    def before_message(self, name: str) -> None:
        """Hook run by an actor before each message: blocks if a hang is armed, raises if a crash is.

        Runs for every message of every actor, so the usual case (nothing armed for `name`) takes no lock:
        reading a set or dict is atomic, and an injection armed while this runs applies to the next message.
        """
        if name not in self._crashes and name not in self._hangs:
            return
        with self._lock:
            crash = name in self._crashes
            self._crashes.discard(name)
            hang = name in self._hangs
            seconds = self._hangs.pop(name, None)
            released = threading.Event() if hang else None
            if released is not None:
                self._blocked.add(released)
        if released is not None:
            released.wait(seconds)
            with self._lock:
                self._blocked.discard(released)
        if crash:
            raise InjectedFault(f"message to {name!r} crashed by fault injection")
