"""Synchronous start: children come up in order, each fully; a failure fails the start cleanly."""

import threading
from collections.abc import Callable

import pytest

from supervisors import (
    ChildSpec,
    FakeScheduler,
    SupervisionEvent,
    SupervisionTree,
    SupervisorSpec,
    TreeStartError,
    TreeState,
)
from tests.supervisors.support import (
    NESTED,
    BlockingStart,
    Boom,
    FailingStart,
    Worker,
    crash,
    trace,
    wait_event,
)


def failed_start(
    root: SupervisorSpec, on_event: Callable[[SupervisionEvent], None] | None = None
) -> tuple[SupervisionTree, TreeStartError]:
    tree = SupervisionTree(root, scheduler=FakeScheduler())
    if on_event is not None:
        tree.events.subscribe(on_event)
    with pytest.raises(TreeStartError) as raised:
        tree.start()
    assert tree.state is TreeState.FAILED
    return tree, raised.value


def test_children_start_in_order_depth_first(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(NESTED)
    assert trace(tree) == [
        ("root", "started", "a", 1),
        ("inner", "started", "x", 1),
        ("inner", "started", "y", 1),
        ("root", "started", "inner", 1),
        ("root", "started", "b", 1),
        ("tree", "started", "root", 1),
    ]
    assert tree.state is TreeState.RUNNING


def test_a_child_failing_to_start_fails_the_tree_and_stops_what_had_started() -> None:
    inner = SupervisorSpec(
        "inner", children=(ChildSpec("x", Worker), ChildSpec("y", FailingStart, (Boom("no"),)))
    )
    tree, error = failed_start(
        SupervisorSpec("root", children=(ChildSpec("a", Worker), inner, ChildSpec("b", Worker)))
    )
    assert str(error) == (
        "supervision tree 'root' could not start: StartFailure: supervisor 'root' could not start child "
        "'inner': StartFailure: supervisor 'inner' could not start child 'y': Boom: no"
    )
    assert trace(tree) == [
        ("root", "started", "a", 1),
        ("inner", "started", "x", 1),
        ("inner", "start_failed", "y", 1),
        ("inner", "stopped", "x", 1),
        ("root", "start_failed", "inner", 1),
        ("root", "stopped", "a", 1),
        ("tree", "start_failed", "root", 1),
    ]
    assert tree.whereis("a") is None and tree.whereis("x") is None


def test_a_constructor_error_is_a_start_failure_naming_it() -> None:
    _tree, error = failed_start(SupervisorSpec("root", children=(ChildSpec("a", Worker, args=("extra",)),)))
    assert "could not start child 'a': TypeError:" in str(error)


def test_an_on_start_that_does_not_finish_in_time_is_abandoned() -> None:
    gate = threading.Event()
    slow = ChildSpec("slow", BlockingStart, args=(gate,), start_timeout_s=0.2)
    tree, error = failed_start(SupervisorSpec("root", children=(slow,)), on_event=lambda event: gate.set())
    assert str(error).endswith(
        "child 'slow': Abandoned: 'slow' incarnation 1 did not finish on_start within 0.2s"
    )
    assert trace(tree, "root") == [("root", "start_failed", "slow", 1)]


def test_a_restart_failing_to_start_counts_as_another_exit(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = start_tree(SupervisorSpec("root", children=(ChildSpec("w", Worker),), intensity=3))
    tree.faults.fail_start("w", times=2)
    crash(tree, "w", 1)
    wait_event(tree, "started", "w", 4)
    assert trace(tree, "root") == [
        ("root", "started", "w", 1),
        ("root", "exited", "w", 1),
        ("root", "restarting", "w", 1),
        ("root", "start_failed", "w", 2),
        ("root", "restarting", "w", 2),
        ("root", "start_failed", "w", 3),
        ("root", "restarting", "w", 3),
        ("root", "started", "w", 4),
    ]
