"""Crash each kind of actor through the fault hook -- on start, mid-message, while stuck -- and recover.

Each scenario injects one fault into one actor of the running service, waits for the supervision events
that prove it happened, and ends with every invariant (`Rig.finish`): the lines agree again, nothing was
lost or duplicated, every restart is explained, and nothing is left after stop. The fault hook hits an
actor's next message, so the scenario pokes actors that get no message of their own (the connection).
"""

from collections.abc import Callable

import pytest

from possync.actors.names import (
    CONNECTION,
    LAKE_WRITER,
    POLLER,
    QUEUE,
    RECONCILER,
    REGISTRY,
    SLOT_ALLOCATOR,
    UPDATES,
    stream_name,
)
from possync.simulator import Simulator
from possync.supervisors import EventKind
from tests.faults.rig import Rig

pytestmark = pytest.mark.timeout(90)

ACTORS = ["stream", CONNECTION, SLOT_ALLOCATOR, POLLER, RECONCILER, LAKE_WRITER, REGISTRY, QUEUE, UPDATES]


def target(rig: Rig, kind: str) -> str:
    """The tree name of the actor of `kind` (a stream: that of the first active contract)."""
    return stream_name(min(rig.active)) if kind == "stream" else kind


def poke(rig: Rig, name: str) -> None:
    """Make sure `name` gets a message now (a `Poke`)."""
    rig.service.tree.poke(name)


def crash_mid_message(rig: Rig, name: str) -> None:
    rig.service.tree.faults.crash_next(name)


def crash_on_start(rig: Rig, name: str) -> None:
    """Its next message crashes it, and the next two starts of it fail: it comes up on the third try."""
    rig.service.tree.faults.fail_start(name, times=2)
    rig.service.tree.faults.crash_next(name)


def crash_while_stuck(rig: Rig, name: str) -> None:
    """Its next message blocks for a while (asks of it time out, its inbox fills), then crashes it."""
    rig.service.tree.faults.hang(name, seconds=2.5)
    rig.service.tree.faults.crash_next(name)


MODES: dict[str, Callable[[Rig, str], None]] = {
    "mid_message": crash_mid_message,
    "on_start": crash_on_start,
    "while_stuck": crash_while_stuck,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ACTORS)
def test_a_crashed_actor_is_restarted_and_the_invariants_hold(
    kind: str, mode: str, sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    name = target(rig, kind)
    mark = rig.mark()

    MODES[mode](rig, name)
    poke(rig, name)

    rig.wait_event(EventKind.EXITED, name, after=mark)
    if mode == "on_start":
        rig.wait_event(EventKind.START_FAILED, name, after=mark)
    rig.wait_event(EventKind.STARTED, name, after=mark)
    rig.finish()
    assert rig.restarts(name) == (3 if mode == "on_start" else 1)


def test_a_stream_whose_start_fails_after_a_session_restart_is_started_again(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    """Found by chaos: the new stream supervisor gave up on a stream whose first start failed, and that
    active contract never streamed again (until the registry happened to resend the active set)."""
    rig = rig_factory(sim)
    name = target(rig, "stream")
    mark = rig.mark()

    rig.service.tree.faults.fail_start(name)
    sim.drop_all()  # the session restarts: every stream starts anew, this one fails once

    rig.wait_event(EventKind.START_FAILED, name, after=mark)
    rig.finish()
