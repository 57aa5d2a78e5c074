"""`POST /faults`: fault injection over the loopback endpoint, for chaos runs against a running service.

Off unless `http.faults = true` (or `Service(..., faults=True)`). The JSON body names one actor of the tree
and one fault, applied through the tree's fault hook (`supervisors.faults.Faults`):

    {"actor": "stream-265598", "fault": "crash"}              its next message raises: it restarts
    {"actor": "connection", "fault": "hang", "seconds": 5}     its next message blocks 5 s (no seconds: until
                                                               a release)
    {"actor": "registry", "fault": "fail_start", "times": 2}   its next 2 starts fail
    {"fault": "release"}                                       unblock every hang, disarm the pending ones

The reply is 200 with what was armed; bad input is a 400 naming the problem (an unknown actor lists the
actors there are). A crash or hang applies to the actor's *next* message; the endpoint then tells the
actor a `Poke` (which it otherwise ignores), so that even an idle actor is hit at once.
"""

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

import msgspec

from possync.supervisors import ChildStatus, SupervisionTree

FaultKind = Literal["crash", "hang", "fail_start", "release"]
EXAMPLE = '{"actor": "stream-265598", "fault": "crash"}'


class FaultRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The body of `POST /faults` (see the module docstring)."""

    fault: FaultKind
    actor: str = ""
    seconds: Annotated[float, msgspec.Meta(gt=0)] | None = None
    times: Annotated[int, msgspec.Meta(ge=1)] = 1


class FaultRequestError(ValueError):
    """A fault request that cannot be applied; the message names the problem (HTTP 400)."""


def actor_names(node: ChildStatus) -> Iterable[str]:
    """The names of `node` and of every actor below it."""
    yield node.name
    for child in node.children:
        yield from actor_names(child)


def fault_handler(tree: SupervisionTree) -> Callable[[bytes], dict[str, Any]]:
    """The function that applies a `POST /faults` body to `tree` and returns the reply (FaultRequestError)."""

    def apply(body: bytes) -> dict[str, Any]:
        request = parse(body)
        if request.fault == "release":
            tree.faults.release()
            return {"fault": "release"}
        known = sorted(set(actor_names(tree.snapshot())))
        if request.actor not in known:
            raise FaultRequestError(f"no actor named {request.actor!r} in the tree; the actors are: {known}")
        match request.fault:
            case "crash":
                tree.faults.crash_next(request.actor)
                tree.poke(request.actor)
                return {"actor": request.actor, "fault": "crash"}
            case "hang":
                tree.faults.hang(request.actor, request.seconds)
                tree.poke(request.actor)
                return {"actor": request.actor, "fault": "hang", "seconds": request.seconds}
            case _:
                tree.faults.fail_start(request.actor, request.times)
                return {"actor": request.actor, "fault": "fail_start", "times": request.times}

    return apply


def parse(body: bytes) -> FaultRequest:
    """The request in `body`; FaultRequestError naming the problem and a valid example."""
    try:
        request = msgspec.json.decode(body, type=FaultRequest)
    except msgspec.DecodeError as error:
        raise FaultRequestError(f"bad fault request ({error}); send e.g. {EXAMPLE}") from None
    if request.fault != "release" and not request.actor:
        raise FaultRequestError(f'"actor" is required for the fault {request.fault!r}; send e.g. {EXAMPLE}')
    if request.seconds is not None and request.fault != "hang":
        raise FaultRequestError(f'"seconds" only applies to "hang", not to {request.fault!r}')
    return request
