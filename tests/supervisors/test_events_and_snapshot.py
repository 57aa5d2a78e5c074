"""The event log (subscribers, bound) and the tree snapshot."""

from collections.abc import Callable

from possync.supervisors import (
    ChildSpec,
    ChildState,
    ChildStatus,
    EventKind,
    EventLog,
    FakeClock,
    OnMaxIntensity,
    SupervisionEvent,
    SupervisionTree,
    SupervisorSpec,
)
from tests.supervisors.support import Worker, crash, wait_event


def test_subscribers_get_each_event_until_they_unsubscribe() -> None:
    log = EventLog(FakeClock(), capacity=2)
    seen: list[SupervisionEvent] = []
    unsubscribe = log.subscribe(seen.append)
    log.subscribe(lambda event: 1 / 0)  # a failing subscriber is skipped
    log.record(EventKind.STARTED, "root", "a", 1)
    unsubscribe()
    log.record(EventKind.STARTED, "root", "b", 1)
    log.record(EventKind.STARTED, "root", "c", 1)
    assert [event.child for event in seen] == ["a"]
    assert [event.child for event in log.all()] == ["b", "c"]


def test_the_snapshot_shows_every_supervisor_child_state_incarnation_and_restarts(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    inner = SupervisorSpec(
        "inner",
        children=(ChildSpec("x", Worker),),
        intensity=0,
        on_max_intensity=OnMaxIntensity.PARK,
    )
    tree = start_tree(SupervisorSpec("root", children=(ChildSpec("a", Worker), inner)))
    crash(tree, "a", 1)
    crash(tree, "x", 1)
    wait_event(tree, "started", "a", 2)
    wait_event(tree, "parked", "x", 1)
    assert tree.snapshot() == ChildStatus(
        "root",
        ChildState.RUNNING,
        1,
        0,
        (
            ChildStatus("a", ChildState.RUNNING, 2, 1),
            ChildStatus("inner", ChildState.PARKED, 1, 0, (ChildStatus("x", ChildState.RESTARTING, 1, 0),)),
        ),
    )
