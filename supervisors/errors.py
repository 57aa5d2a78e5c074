"""The supervision library's exceptions: each says what happened and, where it helps, what to do."""


class InjectedFault(Exception):
    """Raised by the fault-injection hook (`tree.faults`) instead of running a message or an on_start."""


class Abandoned(Exception):
    """An incarnation did not start or stop within its timeout, so its supervisor gave up on it."""


class Escalation(Exception):
    """A supervisor gave up (intensity exceeded, or its decider said ESCALATE) and exits abnormally."""


class StartFailure(Exception):
    """A supervisor could not start one of its children while starting itself."""


class TreeStartError(RuntimeError):
    """A SupervisionTree could not start; nothing of it is left running."""


class NoSuchActor(LookupError):
    """A name that this tree is not running (the reason of a `Terminated` for an unknown name)."""


class NameTaken(ValueError):
    """A child name already used in the tree: names are tree-wide, so each must be unique."""


class LeaseSetClosed(RuntimeError):
    """A lease was acquired after its incarnation had ended; it was released at once."""
