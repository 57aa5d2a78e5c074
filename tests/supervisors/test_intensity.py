"""Restart intensity: exceeded, a supervisor escalates to its parent (up to the tree) or parks and retries."""

from collections.abc import Callable

from possync.supervisors import (
    ChildSpec,
    FakeScheduler,
    OnMaxIntensity,
    SupervisionTree,
    SupervisorSpec,
    TreeState,
)
from tests.helpers import wait_until
from tests.supervisors.support import Worker, crash, trace, wait_event


def test_exceeded_intensity_escalates_through_nested_supervisors_to_the_tree(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    inner = SupervisorSpec("inner", children=(ChildSpec("w", Worker), ChildSpec("x", Worker)), intensity=1)
    tree = start_tree(SupervisorSpec("root", children=(ChildSpec("a", Worker), inner), intensity=1))

    crash(tree, "w", 1)  # inner restarts w: its 1 restart allowed
    crash(tree, "w", 2)  # inner's 2nd restart: inner gives up; root restarts inner (root's 1st)
    wait_event(tree, "started", "inner", 2)  # root's restart is complete before w#3 crashes
    crash(tree, "w", 3)
    crash(tree, "w", 4)  # inner gives up again: root's 2nd restart exceeds root's intensity
    wait_until(lambda: tree.state is TreeState.FAILED)

    inner_gives_up = [
        ("inner", "max_intensity", "w", 0),
        ("inner", "stopped", "x", 0),
        ("inner", "escalated", "w", 0),
    ]

    def gives_up(w: int, x: int) -> list[tuple[str, str, str, int]]:
        return [(s, k, c, {"w": w, "x": x}[c]) for s, k, c, _ in inner_gives_up]

    assert trace(tree) == [
        ("root", "started", "a", 1),
        ("inner", "started", "w", 1),
        ("inner", "started", "x", 1),
        ("root", "started", "inner", 1),
        ("tree", "started", "root", 1),
        ("inner", "exited", "w", 1),
        ("inner", "restarting", "w", 1),
        ("inner", "started", "w", 2),
        ("inner", "exited", "w", 2),
        *gives_up(w=2, x=1),
        ("root", "exited", "inner", 1),
        ("root", "restarting", "inner", 1),
        ("inner", "started", "w", 3),
        ("inner", "started", "x", 2),
        ("root", "started", "inner", 2),
        ("inner", "exited", "w", 3),
        ("inner", "restarting", "w", 3),
        ("inner", "started", "w", 4),
        ("inner", "exited", "w", 4),
        *gives_up(w=4, x=2),
        ("root", "exited", "inner", 2),
        ("root", "max_intensity", "inner", 2),
        ("root", "stopped", "a", 1),
        ("root", "escalated", "inner", 2),
        ("tree", "exited", "root", 1),
    ]
    assert tree.failure is not None
    assert "supervisor 'root' gives up: restart intensity exceeded" in str(tree.failure)
    assert tree.whereis("a") is None


def test_crashes_spread_beyond_the_window_are_all_restarted(
    start_tree: Callable[..., SupervisionTree], scheduler: FakeScheduler
) -> None:
    tree = start_tree(SupervisorSpec("root", children=(ChildSpec("w", Worker),), intensity=1, period_s=5))
    crash(tree, "w", 1)
    wait_event(tree, "started", "w", 2)
    scheduler.advance(5.01)  # the first restart leaves the 5 s window
    crash(tree, "w", 2)
    wait_event(tree, "started", "w", 3)
    assert [kind for _s, kind, _c, _i in trace(tree, "root")].count("max_intensity") == 0


def test_a_parked_supervisor_retries_its_children_after_park_s(
    start_tree: Callable[..., SupervisionTree], scheduler: FakeScheduler
) -> None:
    spec = SupervisorSpec(
        "root",
        children=(ChildSpec("a", Worker), ChildSpec("b", Worker)),
        intensity=1,
        on_max_intensity=OnMaxIntensity.PARK,
        park_s=30,
    )
    tree = start_tree(spec)
    crash(tree, "a", 1)
    crash(tree, "a", 2)
    parked = wait_event(tree, "parked", "a", 2)
    assert (parked.delay_s, parked.at) == (30, 0.0)
    assert tree.state is TreeState.PARKED
    assert tree.whereis("b") is None

    scheduler.advance(29.99)
    assert tree.state is TreeState.PARKED and scheduler.pending() == 1
    scheduler.advance(0.01)
    wait_event(tree, "started", "b", 2)
    assert tree.state is TreeState.RUNNING
    assert [event.at for event in tree.events.all() if event.kind == "restarting"] == [0.0, 30.0, 30.0]
    assert trace(tree, "root")[2:] == [
        ("root", "exited", "a", 1),
        ("root", "restarting", "a", 1),
        ("root", "started", "a", 2),
        ("root", "exited", "a", 2),
        ("root", "max_intensity", "a", 2),
        ("root", "stopped", "b", 1),
        ("root", "parked", "a", 2),
        ("root", "restarting", "a", 2),
        ("root", "started", "a", 3),
        ("root", "restarting", "b", 1),
        ("root", "started", "b", 2),
    ]
