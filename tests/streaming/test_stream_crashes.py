"""Crashes: a stream crash restarts that stream only and never leaks a line; the allocator reclaims leaks."""

from collections.abc import Callable

import pytest

from possync.actors.names import CONNECTION, SLOT_ALLOCATOR, stream_name
from possync.messages.connection import GatewayNotice
from possync.messages.slots import AcquireSlot, RegrowBudget, SlotGranted
from possync.supervisors import EventKind, SupervisedActor
from tests.conftest import one_ib_client
from tests.helpers import wait_until
from tests.streaming.support import Harness, Recording

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Crashes and leases are the supervision's, not the IB client's: these tests run once (tests/conftest.py)."""

CRASHES = 200


@pytest.mark.timeout(150)
def test_crashing_streams_200_times_never_leaks_a_line(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(
        active_count=10,
        positions=20,
        sim={"tick_hz": 50.0},
        supervision={"intensity": 10_000, "backoff_min_s": 0.005, "backoff_max_s": 0.02},
    )
    everyone = set(harness.active)
    conids = sorted(everyone)
    harness.wait_streaming(everyone)

    for crash in range(CRASHES):
        name = stream_name(conids[crash % len(conids)])
        incarnation = harness.incarnation(name)
        harness.tree.faults.crash_next(name)
        harness.tree.poke(name)  # a message for it to crash on
        wait_until(lambda n=name, i=incarnation: _holds_line(harness, n, i + 1), 30, message=f"crash {crash}")
        harness.wait_streaming(everyone)

    assert len(harness.slots().holdings) == harness.lines() == harness.connection().subscriptions == 10
    assert harness.slots().leaks == 0, "every crashed incarnation gave its line back itself"
    others = {e.child for e in harness.tree.events.all() if e.kind is EventKind.EXITED}
    assert others <= {stream_name(c) for c in conids}, "a stream crash restarts only that stream"


def _holds_line(harness: Harness, name: str, incarnation: int) -> bool:
    return any(h.holder == name and h.incarnation == incarnation for h in harness.slots().holdings)


class _Ghost(SupervisedActor):
    """A holder outside the tree, which will die without giving its line back."""

    def __init__(self, recording: Recording) -> None:
        super().__init__()
        self._recording = recording

    def on_receive(self, message: object) -> None:
        self._recording.add(message)


@pytest.mark.timeout(60)
def test_a_line_whose_holder_died_is_reported_and_reclaimed(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=2, positions=10, slots={"budget": 3, "reconcile_s": 0.2})
    harness.wait_streaming(set(harness.active))
    answers = Recording()
    ghost = _Ghost.start(answers)
    harness.tree.whereis(SLOT_ALLOCATOR).tell(AcquireSlot("ghost", 1, 999, 5, ghost))
    wait_until(lambda: answers.all(SlotGranted), 10)
    ghost.stop()
    assert len(harness.slots().holdings) == 3

    wait_until(lambda: harness.slots().leaks == 1, 10, message="the leak is reported")
    assert {h.holder for h in harness.slots().holdings} == {stream_name(c) for c in harness.active}


@pytest.mark.timeout(60)
def test_an_allocator_crash_restarts_the_streams_after_it_with_a_new_epoch(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=10, positions=20)
    harness.wait_streaming(set(harness.active))
    epoch = harness.slots().epoch

    harness.tree.faults.crash_next(SLOT_ALLOCATOR)
    harness.tree.whereis(SLOT_ALLOCATOR).tell(RegrowBudget())

    wait_until(lambda: (harness.settled() is not None and harness.slots().epoch) == epoch + 1, 30)
    harness.wait_streaming(set(harness.active))
    assert harness.incarnation(CONNECTION) == 1, "the connection before it keeps running"
    assert harness.lines() == 10


@pytest.mark.timeout(60)
def test_a_connection_crash_restarts_the_whole_session(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=10, positions=20)
    harness.wait_streaming(set(harness.active))

    harness.tree.faults.crash_next(CONNECTION)
    harness.tree.whereis(CONNECTION).tell(GatewayNotice(2104, "Market data farm connection is OK:usfarm"))

    wait_until(lambda: harness.incarnation(CONNECTION) == 2, 30)
    harness.wait_streaming(set(harness.active))
    assert harness.lines() == 10
