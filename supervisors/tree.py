"""SupervisionTree: an isolated, embeddable supervision tree with its own clock, timers, names and faults.

    with SupervisionTree(root_spec) as tree:       # starts synchronously, or raises TreeStartError
        tree.whereis("connection").tell(...)
    # stopped: every actor, timer thread and lease of the tree is gone; nothing else was touched

A tree never calls `pykka.ActorRegistry.stop_all()`: two trees, and a host's own pykka actors, live
side by side in one process. Tests pass `scheduler=FakeScheduler()` (its clock moves only through
`advance`) and a `seed` for deterministic jitter. If the root supervisor gives up (its restart
intensity exceeded with ESCALATE), its subtree is already stopped: `tree.state` becomes FAILED and
`tree.failure` says why; with PARK, `tree.state` is PARKED until the root retries.
"""

import random
import threading
import time
import weakref
from typing import Any

import msgspec
import pykka

from possync.supervisors.actor import ChildContext
from possync.supervisors.clock import (
    Clock,
    FakeClock,
    FakeScheduler,
    MonotonicClock,
    Scheduler,
    ThreadScheduler,
)
from possync.supervisors.errors import NoSuchActor, StartFailure, TreeStartError
from possync.supervisors.events import TREE, EventKind, EventLog
from possync.supervisors.faults import Faults
from possync.supervisors.incarnation import Incarnation
from possync.supervisors.messages import (
    ChildExited,
    ChildStarted,
    ChildStopped,
    ExitReason,
    Poke,
    StartChild,
    StopChild,
)
from possync.supervisors.names import NameRegistry
from possync.supervisors.spec import Spec, SupervisorSpec
from possync.supervisors.status import ChildState, ChildStatus, TreeState
from possync.supervisors.supervisor import start_actor

_JOIN_S = 2.0
"""How long `stop()` waits for the threads of released (formerly hung or abandoned) actors to finish."""

_ASK_MARGIN_S = 5.0
"""Added to a child's own start timeout when the tree asks a DynamicSupervisor to start it."""


def _pick_scheduler(clock: Clock | None, scheduler: Scheduler | None) -> tuple[Scheduler, bool]:
    """The tree's scheduler, and whether the tree owns (and so closes) it."""
    if scheduler is not None:
        if clock is not None and scheduler.clock is not clock:
            raise ValueError(
                "SupervisionTree: clock is not scheduler.clock; pass scheduler=FakeScheduler(clock)"
            )
        return scheduler, False
    if isinstance(clock, FakeClock):
        return FakeScheduler(clock), True
    if clock is not None and not isinstance(clock, MonotonicClock):
        raise ValueError(f"SupervisionTree: clock={clock!r} needs its own scheduler: pass scheduler=...")
    return ThreadScheduler(), True


class SupervisionTree:
    """One tree of supervised actors under a root SupervisorSpec (see the module docstring)."""

    def __init__(
        self,
        root: SupervisorSpec,
        *,
        clock: Clock | None = None,
        scheduler: Scheduler | None = None,
        seed: int | None = None,
        event_capacity: int = 10_000,
    ) -> None:
        if not isinstance(root, SupervisorSpec):
            raise TypeError(f"SupervisionTree(root={root!r}): the root must be a SupervisorSpec")
        names = [spec.name for spec in root.walk()]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"SupervisionTree: names {repeated} are used more than once; names are tree-wide"
            )
        self.root_spec = root
        self.scheduler, self._owns_scheduler = _pick_scheduler(clock, scheduler)
        self.clock: Clock = self.scheduler.clock
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.events = EventLog(self.clock, event_capacity)
        self.faults = Faults()
        self.names = NameRegistry()
        self._root: Incarnation | None = None
        self._state = TreeState.NEW
        self._failure: ExitReason | None = None
        self._lock = threading.Lock()
        self._threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        self._statuses: dict[str, tuple[bool, tuple[ChildStatus, ...]]] = {}

    # --- life ---

    def start(self) -> "SupervisionTree":
        """Start the root and, through it, every child, in order; raise TreeStartError if anything fails."""
        with self._lock:
            if self._state is not TreeState.NEW:
                raise RuntimeError(f"tree {self.root_spec.name!r} is {self._state}: a tree starts once")
            self._state = TreeState.STARTING
        name = self.root_spec.name
        self.names.claim(name, TREE)
        number = self.names.next_incarnation(name)
        ctx = ChildContext(name, number, self, self._on_root_exit)
        self._root = Incarnation(self.root_spec, ctx, start_actor)
        reason = self._root.start()
        if reason is not None:
            self.events.record(EventKind.START_FAILED, TREE, name, number, str(reason))
            with self._lock:
                self._state, self._failure = TreeState.FAILED, reason
            self._release()
            raise TreeStartError(f"supervision tree {name!r} could not start: {reason}") from reason.error
        self.events.record(EventKind.STARTED, TREE, name, number)
        with self._lock:
            self._state = TreeState.RUNNING
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop the tree in reverse start order within `timeout_s` (default: the root's shutdown timeout).

        Stuck children are abandoned, hangs released, the tree's threads joined and its timer thread
        stopped. Idempotent; a FAILED tree stays FAILED.
        """
        with self._lock:
            running = self._state is TreeState.RUNNING
            if running:
                self._state = TreeState.STOPPING
        root = self._root
        if running and root is not None:
            if root.stop(timeout_s):
                self.events.record(EventKind.STOPPED, TREE, root.ctx.name, root.number)
            else:
                self.events.record(
                    EventKind.ABANDONED, TREE, root.ctx.name, root.number, str(root.ctx.reason)
                )
        self._release()
        with self._lock:
            if self._state in (TreeState.NEW, TreeState.STOPPING):
                self._state = TreeState.STOPPED

    def __enter__(self) -> "SupervisionTree":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state(self) -> TreeState:
        """Where the tree stands (PARKED while the root has parked its children)."""
        with self._lock:
            state = self._state
            parked, _children = self._statuses.get(self.root_spec.name, (False, ()))
        return TreeState.PARKED if state is TreeState.RUNNING and parked else state

    @property
    def failure(self) -> ExitReason | None:
        """Why the tree failed (root start failure or root escalation), or None."""
        return self._failure

    # --- for the tree's actors and its users ---

    def whereis(self, name: str) -> pykka.ActorRef[Any] | None:
        """The current ref of the actor named `name` in this tree, or None if it is not running."""
        return self.names.whereis(name)

    def poke(self, name: str) -> bool:
        """Tell the actor `name` a `Poke`, so that a fault armed for its next message hits it now (it ignores
        the poke otherwise); False if it is not running."""
        ref = self.whereis(name)
        if ref is None:
            return False
        try:
            ref.tell(Poke())
        except pykka.ActorDeadError:
            return False
        return True

    def watch(self, watcher: pykka.ActorRef[Any], name: str) -> None:
        """Tell `watcher` Terminated(name, incarnation, reason) when the running `name` ends."""
        self.names.watch(watcher, name)

    def start_child(self, supervisor: str, spec: Spec, timeout_s: float | None = None) -> pykka.ActorRef[Any]:
        """Start `spec` under the DynamicSupervisor `supervisor`; return its ref, or raise StartFailure."""
        assert spec.start_timeout_s is not None  # set by the spec
        reply = self._ask(supervisor, StartChild(spec), timeout_s or spec.start_timeout_s + _ASK_MARGIN_S)
        if isinstance(reply, ChildStarted):
            return reply.ref
        raise StartFailure(f"{supervisor!r} did not start {spec.name!r}: {reply.reason}")

    def stop_child(self, supervisor: str, name: str, timeout_s: float = 30.0) -> bool:
        """Stop and remove the child `name` of the DynamicSupervisor `supervisor`; False if it had none."""
        reply: ChildStopped = self._ask(supervisor, StopChild(name), timeout_s)
        return reply.found

    def snapshot(self) -> ChildStatus:
        """The whole tree now: each supervisor's children with their state, incarnation and restarts."""
        with self._lock:
            statuses = dict(self._statuses)

        def with_children(status: ChildStatus) -> ChildStatus:
            """`status` with its published children (and PARKED if it parked them), recursively."""
            parked, children = statuses.get(status.name, (False, ()))
            state = ChildState.PARKED if parked and status.state is ChildState.RUNNING else status.state
            return msgspec.structs.replace(status, state=state, children=tuple(map(with_children, children)))

        running = self.whereis(self.root_spec.name) is not None
        root_state = ChildState.RUNNING if running else ChildState.STOPPED
        number = self._root.number if self._root else 0
        return with_children(ChildStatus(self.root_spec.name, root_state, number, 0))

    # --- for the supervisors of this tree ---

    def random(self, name: str, incarnation: int) -> random.Random:
        """A random generator for one supervisor incarnation, seeded from the tree's seed (deterministic)."""
        return random.Random(f"{self.seed}/{name}/{incarnation}")

    def publish(self, supervisor: str, parked: bool, children: tuple[ChildStatus, ...]) -> None:
        """Record a supervisor's current children for `snapshot()`."""
        with self._lock:
            self._statuses[supervisor] = (parked, children)

    def unpublish(self, supervisor: str) -> None:
        """Forget a supervisor that has exited."""
        with self._lock:
            self._statuses.pop(supervisor, None)

    def track_thread(self, thread: threading.Thread) -> None:
        """Remember an actor thread of this tree, so that `stop()` can leave none behind."""
        self._threads.add(thread)

    # --- internals ---

    def _ask(self, supervisor: str, message: Any, timeout_s: float) -> Any:
        ref = self.whereis(supervisor)
        if ref is None:
            raise NoSuchActor(f"no supervisor named {supervisor!r} runs in tree {self.root_spec.name!r}")
        reply = ref.ask(message, timeout=timeout_s)
        if reply is None:
            raise TypeError(f"{supervisor!r} is not a DynamicSupervisor: it cannot add or remove children")
        return reply

    def _on_root_exit(self, notice: ChildExited) -> None:
        """The root's exit notice (in the root's thread): if nobody asked it to stop, the tree failed."""
        with self._lock:
            if self._state is not TreeState.RUNNING:
                return
            self._state = TreeState.STOPPED if notice.reason.normal else TreeState.FAILED
            self._failure = None if notice.reason.normal else notice.reason
        self.events.record(EventKind.EXITED, TREE, notice.name, notice.incarnation, str(notice.reason))
        self.faults.release()

    def _release(self) -> None:
        """Release hangs, join the tree's actor threads (bounded), close the scheduler if the tree owns it."""
        self.faults.release()
        deadline = time.monotonic() + _JOIN_S
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._owns_scheduler:
            self.scheduler.close()
