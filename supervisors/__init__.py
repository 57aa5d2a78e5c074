"""An OTP-like supervision library on pykka.

`SupervisedActor` is the base of every actor of the service; `SupervisionTree` runs a tree of them
under `SupervisorSpec`s and `ChildSpec`s. See the module docstrings of `actor`, `supervisor`,
`dynamic`, `tree`, `leases` and `faults`; `python -m supervisors.demo` shows it working.
"""

from loguru import logger

from possync.supervisors.actor import ChildContext, SupervisedActor, tell_quietly
from possync.supervisors.clock import (
    Clock,
    FakeClock,
    FakeScheduler,
    MonotonicClock,
    Scheduler,
    ThreadScheduler,
    Timer,
)
from possync.supervisors.dynamic import DynamicSupervisor
from possync.supervisors.errors import (
    Abandoned,
    Escalation,
    InjectedFault,
    LeaseSetClosed,
    NameTaken,
    NoSuchActor,
    StartFailure,
    TreeStartError,
)
from possync.supervisors.events import TREE, EventKind, EventLog, SupervisionEvent
from possync.supervisors.faults import Faults
from possync.supervisors.leases import Lease, LeaseSet
from possync.supervisors.messages import (
    NORMAL,
    ChildExited,
    ChildStarted,
    ChildStopped,
    ExitReason,
    Ping,
    Poke,
    StartChild,
    StartRefused,
    StopChild,
    Terminated,
)
from possync.supervisors.quiet_log import BurstLog, LastingLog
from possync.supervisors.spec import (
    Backoff,
    ChildSpec,
    Decider,
    Directive,
    OnMaxIntensity,
    Restart,
    Spec,
    Strategy,
    SupervisorSpec,
)
from possync.supervisors.status import ChildState, ChildStatus, TreeState
from possync.supervisors.supervisor import Supervisor
from possync.supervisors.tree import SupervisionTree

logger.disable(__name__)

__all__ = [
    "NORMAL",
    "TREE",
    "Abandoned",
    "Backoff",
    "BurstLog",
    "ChildContext",
    "ChildExited",
    "ChildSpec",
    "ChildStarted",
    "ChildState",
    "ChildStatus",
    "ChildStopped",
    "Clock",
    "Decider",
    "Directive",
    "DynamicSupervisor",
    "Escalation",
    "EventKind",
    "EventLog",
    "ExitReason",
    "FakeClock",
    "FakeScheduler",
    "Faults",
    "InjectedFault",
    "LastingLog",
    "Lease",
    "LeaseSet",
    "LeaseSetClosed",
    "MonotonicClock",
    "NameTaken",
    "NoSuchActor",
    "OnMaxIntensity",
    "Ping",
    "Poke",
    "Restart",
    "Scheduler",
    "Spec",
    "StartChild",
    "StartFailure",
    "StartRefused",
    "StopChild",
    "Strategy",
    "SupervisedActor",
    "SupervisionEvent",
    "SupervisionTree",
    "Supervisor",
    "SupervisorSpec",
    "Terminated",
    "ThreadScheduler",
    "Timer",
    "TreeStartError",
    "TreeState",
    "tell_quietly",
]
