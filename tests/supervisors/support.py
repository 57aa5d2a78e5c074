"""Actors and helpers shared by the supervision tests: real actors, no fakes."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
import pykka

from possync.supervisors import (
    ChildContext,
    ChildSpec,
    SupervisedActor,
    SupervisionEvent,
    SupervisionTree,
    SupervisorSpec,
    Terminated,
)
from tests.helpers import wait_until

A = TypeVar("A", bound=pykka.Actor)


class Boom(Exception):
    """The error test actors raise when told to."""


class Nudge(msgspec.Struct, frozen=True):
    """Any message; a Worker answers it with its incarnation."""


class Fail(msgspec.Struct, frozen=True):
    """Tells a Worker to raise `error` in its handler."""

    error: BaseException


class StopSelf(msgspec.Struct, frozen=True):
    """Tells a Worker to stop itself: a normal exit."""


class Worker(SupervisedActor):
    """Answers Nudge with its incarnation, raises what Fail carries, stops on StopSelf."""

    def on_receive(self, message: Any) -> Any:
        match message:
            case Nudge():
                return self.ctx.incarnation if self.ctx else 0
            case Fail(error=error):
                raise error
            case StopSelf():
                self.stop()
                return None
        return super().on_receive(message)


class Ledger:
    """A thread-safe record of lease releases: (resource id, name of the releasing thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.released: list[tuple[str, str]] = []

    def release_of(self, resource_id: str) -> Callable[[], None]:
        """A release callback that records `resource_id` and the thread running it."""

        def release() -> None:
            with self._lock:
                self.released.append((resource_id, threading.current_thread().name))

        return release


class LeaseHolder(Worker):
    """Acquires the lease `name#incarnation` in on_start; with `fail_start` it then raises Boom."""

    def __init__(self, ctx: ChildContext | None, ledger: Ledger, fail_start: bool = False) -> None:
        super().__init__(ctx)
        self.ledger = ledger
        self.fail_start = fail_start

    def on_start(self) -> None:
        assert self.ctx is not None
        resource = f"{self.ctx.name}#{self.ctx.incarnation}"
        self.ctx.leases.acquire(resource, self.ledger.release_of(resource))
        if self.fail_start:
            raise Boom(f"{resource} failed in on_start")


class FailingStart(Worker):
    """Raises `error` from on_start."""

    def __init__(self, ctx: ChildContext | None, error: BaseException) -> None:
        super().__init__(ctx)
        self.error = error

    def on_start(self) -> None:
        raise self.error


class BlockingStart(Worker):
    """Blocks in on_start until `gate` is set."""

    def __init__(self, ctx: ChildContext | None, gate: threading.Event) -> None:
        super().__init__(ctx)
        self.gate = gate

    def on_start(self) -> None:
        self.gate.wait()


class Inbox(SupervisedActor):
    """A standalone actor (no context) that keeps every message it is told, e.g. Terminated notices."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.messages: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        with self.lock:
            self.messages.append(message)


@contextmanager
def running(actor_class: type[A]) -> Iterator[pykka.ActorRef[A]]:
    """Start a standalone actor for the duration of the block."""
    ref = actor_class.start()
    try:
        yield ref
    finally:
        ref.stop(timeout=5)


def received(inbox: pykka.ActorRef[Inbox]) -> list[Terminated]:
    """The messages an Inbox actor has kept so far (read through a proxy, with a timeout)."""
    return list(inbox.proxy().messages.get(timeout=5))


NESTED = SupervisorSpec(
    "root",
    children=(
        ChildSpec("a", Worker),
        SupervisorSpec("inner", children=(ChildSpec("x", Worker), ChildSpec("y", Worker))),
        ChildSpec("b", Worker),
    ),
)
"""root(a, inner(x, y), b): a nested tree, to check orders."""

Step = tuple[str, str, str, int]


def trace(tree: SupervisionTree, supervisor: str | None = None) -> list[Step]:
    """The tree's events as (supervisor, kind, child, incarnation), optionally of one supervisor."""
    return [
        (event.supervisor, event.kind.value, event.child, event.incarnation)
        for event in tree.events.all()
        if supervisor is None or event.supervisor == supervisor
    ]


def wait_event(tree: SupervisionTree, kind: str, child: str, incarnation: int) -> SupervisionEvent:
    """Wait for the event `kind` about `child#incarnation` and return it."""

    def find() -> SupervisionEvent | None:
        matches = [
            event
            for event in tree.events.all()
            if (event.kind, event.child, event.incarnation) == (kind, child, incarnation)
        ]
        return matches[0] if matches else None

    try:
        return wait_until(find)
    except AssertionError:
        raise AssertionError(f"no {kind} {child}#{incarnation}; events: {trace(tree)}") from None


def crash(tree: SupervisionTree, name: str, incarnation: int, error: BaseException | None = None) -> None:
    """Once `name#incarnation` has started, make it raise in a tell handler (an abnormal exit)."""
    wait_event(tree, "started", name, incarnation)
    ref = tree.whereis(name)
    assert ref is not None, f"{name}#{incarnation} is not running"
    ref.tell(Fail(error or Boom(f"{name}#{incarnation}")))
