"""The supervision library's messages: exit and death-watch notices, the start probe, dynamic children."""

from typing import Any

import msgspec
import pykka


class ExitReason(msgspec.Struct, frozen=True):
    """Why an incarnation ended: `error` is None for a normal stop, else the exception that ended it."""

    error: BaseException | None = None

    @property
    def normal(self) -> bool:
        """True for a requested, orderly stop."""
        return self.error is None

    def __str__(self) -> str:
        if self.error is None:
            return "normal"
        detail = str(self.error)
        return f"{type(self.error).__name__}: {detail}" if detail else type(self.error).__name__


NORMAL = ExitReason()


class Ping(msgspec.Struct, frozen=True):
    """Asked by a supervisor right after starting a child: the answer means on_start has finished."""


class Poke(msgspec.Struct, frozen=True):
    """Fault injector (`POST /faults`, a test) → any actor: a message for an armed crash or hang to hit now;
    ignored otherwise."""


class ChildExited(msgspec.Struct, frozen=True):
    """Told by an incarnation to its supervisor as the very last thing it does, on every exit path."""

    name: str
    incarnation: int
    reason: ExitReason


class Terminated(msgspec.Struct, frozen=True):
    """Told to a death-watcher when the watched incarnation has ended (at once if it already had)."""

    name: str
    incarnation: int
    reason: ExitReason


class StartChild(msgspec.Struct, frozen=True):
    """Asks a DynamicSupervisor to start a child; the reply is ChildStarted or StartRefused."""

    spec: Any  # ChildSpec | SupervisorSpec (typed loosely: the specs import this module)


class StopChild(msgspec.Struct, frozen=True):
    """Asks a DynamicSupervisor to stop and remove a child; the reply is ChildStopped."""

    name: str


class ChildStarted(msgspec.Struct, frozen=True):
    """Reply to StartChild: the child is up (its on_start has finished)."""

    name: str
    incarnation: int
    ref: pykka.ActorRef[Any]


class StartRefused(msgspec.Struct, frozen=True):
    """Reply to StartChild: the child was not started, and why."""

    name: str
    reason: str


class ChildStopped(msgspec.Struct, frozen=True):
    """Reply to StopChild: `found` is False when no child of that name existed."""

    name: str
    found: bool
