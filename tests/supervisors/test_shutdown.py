"""Ordered, bounded shutdown: reverse order, stuck children abandoned, nothing of the tree left behind."""

import threading
from collections.abc import Callable

import pykka

from possync.supervisors import ChildSpec, Strategy, SupervisionTree, SupervisorSpec, TreeState
from tests.supervisors.support import NESTED, LeaseHolder, Ledger, Nudge, Worker, crash, trace, wait_event


def test_stop_goes_in_reverse_start_order_through_nested_supervisors(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = start_tree(NESTED)
    tree.stop()
    assert trace(tree)[6:] == [
        ("root", "stopped", "b", 1),
        ("inner", "stopped", "y", 1),
        ("inner", "stopped", "x", 1),
        ("root", "stopped", "inner", 1),
        ("root", "stopped", "a", 1),
        ("tree", "stopped", "root", 1),
    ]
    assert tree.state is TreeState.STOPPED
    tree.stop()  # idempotent
    assert tree.state is TreeState.STOPPED


def test_a_hung_child_is_abandoned_on_shutdown_and_the_rest_still_stops(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    ledger = Ledger()
    stuck = ChildSpec("stuck", LeaseHolder, args=(ledger,), shutdown_timeout_s=0.2)
    tree = start_tree(
        SupervisorSpec("root", children=(ChildSpec("a", Worker), stuck, ChildSpec("b", Worker)))
    )
    stuck_ref = tree.whereis("stuck")
    tree.faults.hang("stuck")
    tree.stop()

    abandoned = next(event for event in tree.events.all() if event.kind == "abandoned")
    assert abandoned.reason == "Abandoned: 'stuck' incarnation 1 did not stop within 0.2s"
    assert trace(tree)[4:] == [
        ("root", "stopped", "b", 1),
        ("root", "abandoned", "stuck", 1),
        ("root", "stopped", "a", 1),
        ("tree", "stopped", "root", 1),
    ]
    assert [resource for resource, _thread in ledger.released] == ["stuck#1"]
    assert stuck_ref is not None and stuck_ref not in pykka.ActorRegistry.get_all()


def test_stopping_a_tree_leaves_the_thread_count_where_it_was() -> None:
    before = set(threading.enumerate())
    inner = SupervisorSpec("inner", children=(ChildSpec("x", Worker),))
    tree = SupervisionTree(
        SupervisorSpec("root", children=(ChildSpec("a", Worker), inner))
    )  # real timer thread
    with tree:
        started = sorted(thread.name.split("-")[0] for thread in set(threading.enumerate()) - before)
        assert started == ["Supervisor", "Supervisor", "Worker", "Worker", "supervision"]
    assert set(threading.enumerate()) - before == set()


def test_two_trees_in_one_process_do_not_disturb_each_other(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    spec = SupervisorSpec(
        "root", children=(ChildSpec("w", Worker), ChildSpec("v", Worker)), strategy=Strategy.ONE_FOR_ALL
    )
    first, second = start_tree(spec), start_tree(spec)
    assert first.whereis("w") is not second.whereis("w")
    crash(first, "w", 1)
    wait_event(first, "started", "v", 2)
    assert second.whereis("w").ask(Nudge(), timeout=5) == 1  # type: ignore[union-attr]
    first.stop()
    assert second.state is TreeState.RUNNING
    assert [ref.ask(Nudge(), timeout=5) for ref in (second.whereis("w"), second.whereis("v"))] == [1, 1]  # type: ignore[union-attr]
    assert trace(second) == [
        ("root", "started", "w", 1),
        ("root", "started", "v", 1),
        ("tree", "started", "root", 1),
    ]
