"""Supervisor: an OTP-like supervisor actor, itself a SupervisedActor so that supervisors nest.

- Synchronous start: children start in spec order, each fully (on_start done) before the next; a child
  that fails to start fails the supervisor's own start (the others are stopped again).
- When a child's incarnation ends (its ChildExited notice), the child's restart type decides first
  (permanent: always restart, transient: only after an abnormal exit, temporary: never), then for an
  abnormal exit the spec's decider (RESTART / STOP / ESCALATE), then the restart intensity (more than
  `intensity` restarts within `period_s`: stop every child in reverse start order, then ESCALATE by
  exiting abnormally with Escalation so the parent decides, or PARK: retry them all after `park_s`).
- The strategy picks who restarts: the child (one_for_one), every child (one_for_all) or the child and
  those started after it (rest_for_one); the others of the group are stopped first, in reverse order.
- With a Backoff, the group restarts after a delay from the tree's scheduler (seeded jitter), otherwise
  at once, in start order. A restart that fails to start is handled as another exit of that child.
- Stopping a child waits up to its `shutdown_timeout_s`; a stuck child is abandoned (marked dead,
  unregistered, its leases released from outside), never waited on forever.
- Stale notices (an older incarnation, a child being stopped on purpose) never trigger a restart.
  Children only tell their supervisor; the supervisor only asks its children Ping, with a timeout.

Every step is recorded in `tree.events`; the children's state is published for `tree.snapshot()`.
"""

import itertools
import math
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, NoReturn

import msgspec
import pykka

from possync.supervisors.actor import ChildContext, SupervisedActor, tell_quietly
from possync.supervisors.clock import Timer
from possync.supervisors.errors import Escalation, StartFailure
from possync.supervisors.events import EventKind
from possync.supervisors.incarnation import Incarnation
from possync.supervisors.intensity import RestartIntensity
from possync.supervisors.messages import ChildExited, ExitReason
from possync.supervisors.spec import Directive, OnMaxIntensity, Restart, Spec, Strategy, SupervisorSpec
from possync.supervisors.status import ChildState, ChildStatus


def start_actor(spec: Spec, ctx: ChildContext) -> pykka.ActorRef[Any]:
    """Start one incarnation of `spec` (returns before its on_start has run): a worker with its arguments,
    a supervisor (`actor_class`, by default `Supervisor`) with its spec."""
    if isinstance(spec, SupervisorSpec):
        return (spec.actor_class or Supervisor).start(ctx, spec)
    return spec.actor_class.start(ctx, *spec.args, **spec.kwargs)


class _TimerDue(msgspec.Struct, frozen=True):
    """Told by the scheduler when one of the supervisor's timers (backoff, park) is due."""

    token: int


class _Child:
    """The supervisor's record of one child: spec, current incarnation, restart bookkeeping."""

    __slots__ = ("attempts", "current", "incarnation", "restarts", "spec", "started_at", "state")

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.state = ChildState.STOPPED
        self.current: Incarnation | None = None
        self.incarnation = 0
        self.restarts = 0
        self.attempts = 0  # backoff attempts since the last reset
        self.started_at = -math.inf

    @property
    def name(self) -> str:
        """The child's name."""
        return self.spec.name


_Failure = tuple[_Child, ExitReason]


class Supervisor(SupervisedActor):
    """Supervises the children of a SupervisorSpec (see the module docstring); started by its parent."""

    crash_on_ask_error = True
    strategies: ClassVar[frozenset[Strategy]] = frozenset(Strategy)
    """The strategies this kind of supervisor runs (a SupervisorSpec naming it is checked against them)."""

    def __init__(self, ctx: ChildContext | None, spec: SupervisorSpec) -> None:
        if ctx is None:
            raise TypeError("a Supervisor runs inside a tree: start it with SupervisionTree(spec)")
        super().__init__(ctx)
        self.spec = spec
        self.name = ctx.name
        self.tree = ctx.tree
        self._children = {child.name: _Child(child) for child in spec.children}
        self._intensity = RestartIntensity(spec.intensity, spec.period_s)
        self._rng = self.tree.random(self.name, ctx.incarnation)
        self._timers: dict[int, tuple[Timer, Callable[[], None]]] = {}
        self._tokens = itertools.count(1)
        self._parked = False

    def on_start(self) -> None:
        """Claim the children's names and start them in order; StartFailure if a required one fails.

        A child that may start late (`start_required=False`) and fails is handled as after a crash; the
        siblings that depend on it under the strategy wait and start after it.
        """
        children = list(self._children.values())
        for child in children:
            self.tree.names.claim(child.name, self.name)
        for index, child in enumerate(children):
            reason = self._start(child)
            if reason is None:
                continue
            if child.spec.start_required:
                raise StartFailure(f"supervisor {self.name!r} could not start child {child.name!r}: {reason}")
            dependants = [] if self.spec.strategy is Strategy.ONE_FOR_ONE else children[index + 1 :]
            for waiting in dependants:
                waiting.state = ChildState.RESTARTING
            self._handle_down(child, reason)
            if dependants:
                break
        self._publish()

    def on_receive(self, message: Any) -> Any:
        """Handle exit notices and due timers (tells only); anything else is logged as unexpected."""
        match message:
            case ChildExited(name=name, incarnation=incarnation, reason=reason):
                self._on_child_exited(name, incarnation, reason)
            case _TimerDue(token=token):
                _timer, action = self._timers.pop(token, (None, None))
                if action is not None:
                    action()
            case _:
                return super().on_receive(message)
        self._publish()
        return None

    def _on_exit(self, reason: ExitReason) -> None:
        self._cancel_timers()
        self._stop_children(list(self._children.values()))
        self.tree.unpublish(self.name)

    # --- deciding ---

    def _on_child_exited(self, name: str, incarnation: int, reason: ExitReason) -> None:
        child = self._children.get(name)
        if child is None or child.state is not ChildState.RUNNING or child.incarnation != incarnation:
            return  # stale: an older incarnation, or a child stopped on purpose
        child.current, child.state = None, ChildState.RESTARTING
        self._record(EventKind.EXITED, child, reason=str(reason))
        self._handle_down(child, reason)

    def _handle_down(self, child: _Child, reason: ExitReason) -> None:
        """Decide about a child that went down; a restart failing at once loops here, not recursively."""
        failure: _Failure | None = (child, reason)
        while failure is not None:
            failure = self._decide(*failure)

    def _decide(self, child: _Child, reason: ExitReason) -> _Failure | None:
        directive = self._directive(child, reason)
        if directive is Directive.STOP:
            self._retire(child)
            return None
        if directive is Directive.ESCALATE:
            self._escalate(child, f"its decider escalated the exit of {child.name!r}: {reason}", reason)
        if not self._intensity.allow(self.tree.clock.now()):
            self._on_max_intensity(child, reason)
            return None
        group = self._group(child)
        self._stop_children(group)
        self._mark_restarting(group, keep=child)
        delay_s = self._backoff_delay(child)
        if delay_s > 0:
            self._schedule(delay_s, partial(self._resume, group))
            self._record(EventKind.BACKOFF, child, delay_s=delay_s)
            return None
        return self._start_waiting(group)

    def _directive(self, child: _Child, reason: ExitReason) -> Directive:
        restart = child.spec.restart
        if restart is Restart.TEMPORARY:
            return Directive.STOP
        if reason.error is None:
            return Directive.RESTART if restart is Restart.PERMANENT else Directive.STOP
        return self.spec.decider(reason.error)

    def _group(self, child: _Child) -> list[_Child]:
        """Who restarts with `child` under the strategy (not those down for good), in start order."""
        members = list(self._children.values())
        match self.spec.strategy:
            case Strategy.ONE_FOR_ONE:
                return [child]
            case Strategy.REST_FOR_ONE:
                members = members[members.index(child) :]
        return [member for member in members if member is child or member.state is not ChildState.STOPPED]

    def _mark_restarting(self, members: list[_Child], keep: _Child | None = None) -> None:
        """Mark stopped group members as waiting for a restart; temporary ones are retired instead."""
        for member in members:
            if member.spec.restart is Restart.TEMPORARY and member is not keep:
                self._retire(member)
            else:
                member.state = ChildState.RESTARTING

    def _backoff_delay(self, child: _Child) -> float:
        backoff = self.spec.backoff
        if backoff is None:
            return 0.0
        if self.tree.clock.now() - child.started_at >= backoff.reset_after_s:
            child.attempts = 0
        delay_s = backoff.delay(child.attempts, self._rng)
        child.attempts += 1
        return delay_s

    def _on_max_intensity(self, child: _Child, reason: ExitReason) -> None:
        spec = self.spec
        why = f"more than {spec.intensity} restarts in {spec.period_s}s; last: {child.name!r}: {reason}"
        self._record(EventKind.MAX_INTENSITY, child, reason=why)
        if self.spec.on_max_intensity is OnMaxIntensity.ESCALATE:
            self._escalate(child, f"restart intensity exceeded ({why})", reason)
        self._cancel_timers()
        members = [member for member in self._children.values() if member.state is not ChildState.STOPPED]
        self._stop_children(members)
        self._mark_restarting(members, keep=child)
        self._parked = True
        self._schedule(self.spec.park_s, self._unpark)
        self._record(EventKind.PARKED, child, reason=why, delay_s=self.spec.park_s)

    def _unpark(self) -> None:
        self._parked = False
        self._intensity.reset()
        for child in self._children.values():
            child.attempts = 0
        self._resume(list(self._children.values()))

    def _escalate(self, child: _Child, why: str, reason: ExitReason) -> NoReturn:
        """Stop every child in reverse start order and exit abnormally, so that the parent decides."""
        self._cancel_timers()
        self._stop_children(list(self._children.values()))
        self._record(EventKind.ESCALATED, child, reason=why)
        raise Escalation(f"supervisor {self.name!r} gives up: {why}") from reason.error

    def _retire(self, child: _Child) -> None:
        """A child that will not be restarted (DynamicSupervisor removes it)."""
        child.state = ChildState.STOPPED

    # --- starting and stopping ---

    def _resume(self, group: list[_Child]) -> None:
        failure = self._start_waiting(group)
        if failure is not None:
            self._handle_down(*failure)

    def _start_waiting(self, group: list[_Child]) -> _Failure | None:
        """Restart, in order, the members still waiting; stop at the first that fails and return it."""
        for member in group:
            if member.state is ChildState.RESTARTING:
                if member.incarnation:  # else its first start, waiting for a sibling that may start late
                    member.restarts += 1
                    self._record(EventKind.RESTARTING, member)
                reason = self._start(member)
                if reason is not None:
                    return member, reason
        return None

    def _start(self, child: _Child) -> ExitReason | None:
        """Start a new incarnation of `child` synchronously; None once it is up, else why it is not."""
        child.incarnation = self.tree.names.next_incarnation(child.name)
        child.started_at = self.tree.clock.now()
        notify = partial(tell_quietly, self.actor_ref)
        ctx = ChildContext(child.name, child.incarnation, self.tree, notify)
        incarnation = Incarnation(child.spec, ctx, start_actor)
        reason = incarnation.start()
        if reason is not None:
            child.state = ChildState.RESTARTING
            self._record(EventKind.START_FAILED, child, reason=str(reason))
            return reason
        child.current, child.state = incarnation, ChildState.RUNNING
        self._record(EventKind.STARTED, child)
        return None

    def _stop_children(self, children: list[_Child]) -> None:
        """Stop the running ones among `children`, in reverse order, each within its shutdown timeout."""
        for child in reversed(children):
            if child.state is ChildState.RUNNING and child.current is not None:
                incarnation, child.current, child.state = child.current, None, ChildState.STOPPED
                if incarnation.stop():
                    self._record(EventKind.STOPPED, child)
                else:
                    self._record(EventKind.ABANDONED, child, reason=str(incarnation.ctx.reason))

    # --- plumbing ---

    def _schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        token = next(self._tokens)
        timer = self.tree.scheduler.schedule(delay_s, partial(tell_quietly, self.actor_ref, _TimerDue(token)))
        self._timers[token] = (timer, action)

    def _cancel_timers(self) -> None:
        for timer, _action in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _record(self, kind: EventKind, child: _Child, reason: str = "", delay_s: float | None = None) -> None:
        self.tree.events.record(kind, self.name, child.name, child.incarnation, reason, delay_s)

    def _publish(self) -> None:
        children = tuple(
            ChildStatus(c.name, c.state, c.incarnation, c.restarts) for c in self._children.values()
        )
        self.tree.publish(self.name, self._parked, children)
