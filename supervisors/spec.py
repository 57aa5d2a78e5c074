"""Child and supervisor specifications: what to start, and how to supervise it (OTP/Akka semantics).

    SupervisorSpec("session", children=(
        ChildSpec("connection", ConnectionActor, args=(settings,)),
        ChildSpec("slots", SlotAllocatorActor),
        SupervisorSpec("streams", actor_class=DynamicSupervisor),
    ), strategy=Strategy.REST_FOR_ONE, intensity=5, period_s=60, backoff=Backoff(0.5, 30))

Specs are frozen and validated on construction: a bad value raises ValueError naming the field,
the value and what is allowed.
"""

import math
import random
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import msgspec

from possync.supervisors.actor import SupervisedActor


class Restart(StrEnum):
    """When a child is restarted: always, only after an abnormal exit, or never."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(StrEnum):
    """Which children restart when one exits: itself, all, or itself and those started after it."""

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class Directive(StrEnum):
    """A decider's verdict on an abnormal exit: restart the child, leave it stopped, or give up upwards."""

    RESTART = "restart"
    STOP = "stop"
    ESCALATE = "escalate"


class OnMaxIntensity(StrEnum):
    """What a supervisor does when its restart intensity is exceeded."""

    ESCALATE = "escalate"  # stop the children and exit abnormally: the parent decides (OTP)
    PARK = "park"  # stop the children and start them again after `park_s`


def _check(spec: msgspec.Struct, field: str, ok: Callable[[Any], bool], allowed: str) -> None:
    """Raise ValueError naming the spec, the field, its value and what is allowed, unless `ok(value)`."""
    value = getattr(spec, field)
    if not ok(value):
        name = getattr(spec, "name", None)
        owner = type(spec).__name__ + ("" if name is None else f" {name!r}")
        raise ValueError(f"{owner}: {field}={value!r} is invalid: {allowed}")


def _check_enum(spec: msgspec.Struct, field: str, enum: type[StrEnum]) -> None:
    members = ", ".join(f"{enum.__name__}.{member.name}" for member in enum)
    _check(spec, field, lambda value: isinstance(value, enum), f"use one of {members}")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0


def _name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


class Backoff(msgspec.Struct, frozen=True):
    """Delays between restarts (Akka restartWithBackoff): `min_s * 2**n` capped at `max_s`, times a
    random factor in [1, 1 + random_factor); `n` counts the child's restarts and goes back to 0 once an
    incarnation has run for `reset_after_s`."""

    min_s: float
    max_s: float
    random_factor: float = 0.2
    reset_after_s: float = 60.0

    def __post_init__(self) -> None:
        _check(self, "min_s", _positive, "must be positive")
        _check(self, "max_s", lambda value: value >= self.min_s, f"must be at least min_s={self.min_s}")
        _check(self, "random_factor", lambda value: value >= 0, "must be 0 or more")
        _check(self, "reset_after_s", _positive, "must be positive")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before restart number `attempt` (0-based) since the last reset."""
        base = min(self.max_s, self.min_s * 2.0 ** min(attempt, 64))
        return base * (1.0 + rng.random() * self.random_factor)


class Decider(msgspec.Struct, frozen=True):
    """Decides on an abnormal exit by exception type: the first rule the error is an instance of wins.

    `Decider({ConnectionRefusedError: Directive.RESTART, ValueError: Directive.STOP})`
    """

    rules: dict[type[BaseException], Directive] = {}
    default: Directive = Directive.RESTART

    def __call__(self, error: BaseException) -> Directive:
        """The directive for `error`."""
        for error_type, directive in self.rules.items():
            if isinstance(error, error_type):
                return directive
        return self.default


class ChildSpec(msgspec.Struct, frozen=True):
    """A worker: a SupervisedActor subclass, started as `actor_class.start(ctx, *args, **kwargs)`.

    `start_required=False`: a failed first start does not fail the supervisor's start; the child is then
    restarted as after a crash (backoff, intensity), and the siblings that depend on it under the
    strategy (the later ones for rest_for_one, all for one_for_all) start once it is up.
    """

    name: str
    actor_class: type[SupervisedActor]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    restart: Restart = Restart.PERMANENT
    shutdown_timeout_s: float = 5.0
    start_timeout_s: float = 5.0
    start_required: bool = True

    def __post_init__(self) -> None:
        _check(self, "name", _name, "must be a non-empty str")
        _check(
            self,
            "actor_class",
            lambda value: isinstance(value, type) and issubclass(value, SupervisedActor),
            "must be a subclass of supervisors.SupervisedActor",
        )
        _check_enum(self, "restart", Restart)
        _check(self, "shutdown_timeout_s", _positive, "must be positive")
        _check(self, "start_timeout_s", _positive, "must be positive")


_MARGIN_S = 5.0
"""Added to the sum of the children's timeouts for a supervisor's default start/shutdown timeout."""


class SupervisorSpec(msgspec.Struct, frozen=True):
    """A supervisor and its children; usable as the root of a tree or as a child of another supervisor.

    `intensity`/`period_s`: at most that many restarts in a sliding window (OTP default 1 in 5 s).
    `decider`: maps the exception of an abnormal exit to a Directive. `actor_class`: Supervisor (None),
    DynamicSupervisor, or a subclass. Timeouts default to the sum of the children's plus 5 s.
    `start_required` as for a ChildSpec.
    """

    name: str
    children: tuple["ChildSpec | SupervisorSpec", ...] = ()
    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 1
    period_s: float = 5.0
    backoff: Backoff | None = None
    decider: Callable[[BaseException], Directive] = Decider()
    on_max_intensity: OnMaxIntensity = OnMaxIntensity.ESCALATE
    park_s: float = 30.0
    restart: Restart = Restart.PERMANENT
    shutdown_timeout_s: float | None = None
    start_timeout_s: float | None = None
    actor_class: type[SupervisedActor] | None = None
    start_required: bool = True

    def __post_init__(self) -> None:
        _check(self, "name", _name, "must be a non-empty str")
        msgspec.structs.force_setattr(self, "children", tuple(self.children))
        _check(
            self,
            "children",
            lambda children: all(isinstance(child, ChildSpec | SupervisorSpec) for child in children),
            "each child must be a ChildSpec or a SupervisorSpec",
        )
        names = [child.name for child in self.children]
        _check(self, "children", lambda _: len(set(names)) == len(names), f"child names repeat in {names}")
        _check_enum(self, "strategy", Strategy)
        _check_enum(self, "on_max_intensity", OnMaxIntensity)
        _check_enum(self, "restart", Restart)
        _check(self, "intensity", lambda value: isinstance(value, int) and value >= 0, "must be an int >= 0")
        _check(self, "period_s", _positive, "must be positive")
        _check(self, "park_s", _positive, "must be positive")
        _check(self, "decider", callable, "must be callable(error) -> Directive")
        _check(
            self,
            "actor_class",
            lambda cls: (
                cls is None
                or (
                    (isinstance(cls, type) and issubclass(cls, SupervisedActor))
                    and hasattr(cls, "strategies")
                )
            ),
            "must be None (Supervisor), DynamicSupervisor or a subclass of Supervisor",
        )
        _check(
            self,
            "strategy",
            lambda strategy: self.actor_class is None or strategy in self.actor_class.strategies,  # type: ignore[attr-defined]
            f"{getattr(self.actor_class, '__name__', '')} runs only "
            f"{', '.join(sorted(getattr(self.actor_class, 'strategies', ())))}",
        )
        for field in ("shutdown_timeout_s", "start_timeout_s"):
            if getattr(self, field) is None:
                default = math.fsum(getattr(child, field) for child in self.children) + _MARGIN_S
                msgspec.structs.force_setattr(self, field, default)
            _check(self, field, _positive, "must be positive, or None for the default")

    def walk(self) -> list["ChildSpec | SupervisorSpec"]:
        """This spec and every spec below it, depth first."""
        specs: list[ChildSpec | SupervisorSpec] = [self]
        for child in self.children:
            specs.extend(child.walk() if isinstance(child, SupervisorSpec) else [child])
        return specs


Spec = ChildSpec | SupervisorSpec
"""Anything a supervisor can start."""
