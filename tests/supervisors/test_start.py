"""Synchronous start: children come up in order, each fully; a failure fails the start cleanly."""

import threading
from collections.abc import Callable

import pytest

from possync.supervisors import (
    Backoff,
    ChildSpec,
    FakeScheduler,
    Strategy,
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


def test_a_child_that_may_start_late_is_retried_with_backoff_and_the_supervisor_starts() -> None:
    scheduler = FakeScheduler()
    late = ChildSpec("late", Worker, start_required=False)
    root = SupervisorSpec(
        "root",
        children=(late, ChildSpec("after", Worker)),
        intensity=5,
        backoff=Backoff(1.0, 4.0, random_factor=0.0),
    )
    tree = SupervisionTree(root, scheduler=scheduler)
    tree.faults.fail_start("late", times=2)
    with tree:
        assert tree.state is TreeState.RUNNING and tree.whereis("late") is None
        assert tree.whereis("after") is not None  # one_for_one: nobody waits for it
        scheduler.advance(1.0)
        wait_event(tree, "start_failed", "late", 2)
        scheduler.advance(2.0)
        wait_event(tree, "started", "late", 3)
        assert [step for step in trace(tree) if step[2] == "late"] == [
            ("root", "start_failed", "late", 1),
            ("root", "backoff", "late", 1),
            ("root", "restarting", "late", 1),
            ("root", "start_failed", "late", 2),
            ("root", "backoff", "late", 2),
            ("root", "restarting", "late", 2),
            ("root", "started", "late", 3),
        ]
        assert [e.delay_s for e in tree.events.all() if e.kind == "backoff"] == [1.0, 2.0]


def test_under_rest_for_one_the_later_siblings_of_a_late_child_start_after_it() -> None:
    scheduler = FakeScheduler()
    root = SupervisorSpec(
        "root",
        children=(
            ChildSpec("first", Worker),
            ChildSpec("late", Worker, start_required=False),
            ChildSpec("dependant", Worker),
        ),
        strategy=Strategy.REST_FOR_ONE,
        intensity=5,
        backoff=Backoff(1.0, 4.0, random_factor=0.0),
    )
    tree = SupervisionTree(root, scheduler=scheduler)
    tree.faults.fail_start("late")
    with tree:
        assert tree.whereis("dependant") is None  # waits for the child it depends on
        scheduler.advance(1.0)
        wait_event(tree, "started", "dependant", 1)
        assert trace(tree, "root") == [
            ("root", "started", "first", 1),
            ("root", "start_failed", "late", 1),
            ("root", "backoff", "late", 1),
            ("root", "restarting", "late", 1),
            ("root", "started", "late", 2),
            ("root", "started", "dependant", 1),
        ]
        assert {c.name: c.restarts for c in tree.snapshot().children} == {
            "first": 0,
            "late": 1,
            "dependant": 0,
        }


def test_a_required_child_is_the_default() -> None:
    assert ChildSpec("a", Worker).start_required and SupervisorSpec("s").start_required
