"""The fault-injection hook: crash_next, fail_start, hang, release, clear."""

import threading
from collections.abc import Callable

import pykka
import pytest

from possync.supervisors import ChildSpec, Faults, InjectedFault, SupervisionTree, SupervisorSpec
from tests.helpers import wait_until
from tests.supervisors.support import Nudge, Worker, trace, wait_event

SPEC = SupervisorSpec("root", children=(ChildSpec("w", Worker),), intensity=5)


def test_crash_next_fails_the_next_message_only(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(SPEC)
    w = tree.whereis("w")
    assert w is not None
    tree.faults.crash_next("w")
    with pytest.raises(InjectedFault, match="message to 'w' crashed by fault injection"):
        w.ask(Nudge(), timeout=5)  # an ask returns the fault; the actor lives on
    assert w.ask(Nudge(), timeout=5) == 1
    tree.faults.crash_next("w")
    w.tell(Nudge())  # a tell crashes it
    wait_event(tree, "started", "w", 2)


def test_a_poke_fires_an_armed_crash_now_and_is_otherwise_ignored(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = start_tree(SPEC)
    w = tree.whereis("w")
    assert w is not None
    assert tree.poke("w")  # nothing armed: ignored, the worker counts nothing
    assert w.ask(Nudge(), timeout=5) == 1

    tree.faults.crash_next("w")
    assert tree.poke("w")

    wait_event(tree, "started", "w", 2)
    assert not tree.poke("nobody")


def test_fail_start_fails_that_many_starts(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(SPEC)
    tree.faults.fail_start("w", times=2)
    tree.faults.crash_next("w")
    tree.whereis("w").tell(Nudge())  # type: ignore[union-attr]
    wait_event(tree, "started", "w", 4)
    assert [kind for _s, kind, _c, _i in trace(tree, "root")].count("start_failed") == 2


def test_a_hang_blocks_the_next_message_until_released(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(SPEC)
    w = tree.whereis("w")
    assert w is not None
    tree.faults.hang("w")
    answer = w.ask(Nudge(), block=False)
    with pytest.raises(pykka.Timeout):
        answer.get(timeout=0.05)
    tree.faults.release()
    assert answer.get(timeout=5) == 1


def test_a_timed_hang_ends_by_itself(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(SPEC)
    tree.faults.hang("w", seconds=0.01)
    assert tree.whereis("w").ask(Nudge(), timeout=5) == 1  # type: ignore[union-attr]


def test_clear_disarms_everything_pending(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = start_tree(SPEC)
    tree.faults.crash_next("w")
    tree.faults.hang("w")
    tree.faults.fail_start("w")
    tree.faults.clear()
    assert tree.whereis("w").ask(Nudge(), timeout=5) == 1  # type: ignore[union-attr]


def test_bad_fault_arguments_are_refused_clearly() -> None:
    faults = Faults()
    with pytest.raises(ValueError, match=r"fail_start\(times=0\): times must be at least 1"):
        faults.fail_start("w", times=0)
    with pytest.raises(ValueError, match=r"hang\(seconds=0\): seconds must be positive"):
        faults.hang("w", seconds=0)


def test_a_crash_armed_when_the_stop_comes_still_stops_the_actor() -> None:
    """Found by chaos: a crash armed for an idle actor hit the stop message instead; the stop failed, the
    actor lived on, unregistered and unsupervised (its supervisor abandoned it): a leaked thread."""
    threads = set(threading.enumerate())
    tree = SupervisionTree(SPEC).start()
    tree.faults.crash_next("w")  # w is idle: its next message is the stop

    tree.stop(10)

    assert trace(tree, "root")[-1][1] == "stopped"  # stopped in time, not abandoned
    wait_until(lambda: set(threading.enumerate()) <= threads, 10, message="w's thread ended")
