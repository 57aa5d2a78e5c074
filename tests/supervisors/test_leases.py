"""Leases: released exactly once per incarnation, whatever the exit path, and before a restart."""

import threading
from collections.abc import Callable

import pytest

from possync.supervisors import (
    ChildSpec,
    FakeScheduler,
    LeaseSet,
    LeaseSetClosed,
    Strategy,
    SupervisionTree,
    SupervisorSpec,
)
from tests.supervisors.support import LeaseHolder, Ledger, Nudge, Worker, crash, trace, wait_event


def holder_tree(ledger: Ledger, **options: object) -> SupervisorSpec:
    return SupervisorSpec(
        "root", children=(ChildSpec("h", LeaseHolder, args=(ledger,), **options),), intensity=5
    )


def resources(ledger: Ledger) -> list[str]:
    return [resource for resource, _thread in ledger.released]


def test_a_crash_in_on_start_releases_the_lease_once() -> None:
    ledger = Ledger()
    spec = SupervisorSpec("root", children=(ChildSpec("h", LeaseHolder, args=(ledger, True)),))
    tree = SupervisionTree(spec, scheduler=FakeScheduler())
    with pytest.raises(Exception, match="h#1 failed in on_start"):
        tree.start()
    assert resources(ledger) == ["h#1"]


def test_a_crash_in_a_handler_releases_the_lease_once_before_the_restart(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    ledger = Ledger()
    tree = start_tree(holder_tree(ledger))
    crash(tree, "h", 1)
    wait_event(tree, "started", "h", 2)
    assert resources(ledger) == ["h#1"]  # released before h#2 acquired h#2
    tree.stop()
    assert resources(ledger) == ["h#1", "h#2"]


def test_a_child_abandoned_while_stuck_on_shutdown_is_released_from_outside(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    ledger = Ledger()
    tree = start_tree(holder_tree(ledger, shutdown_timeout_s=0.2))
    stuck = tree.whereis("h")
    assert stuck is not None
    tree.faults.hang("h")
    stuck.tell(Nudge())
    tree.stop()
    [(resource, thread)] = ledger.released
    assert resource == "h#1"
    assert thread.startswith("Supervisor-"), "released by the supervisor, not the stuck actor"


def test_a_sibling_abandoned_while_stuck_in_a_restart_is_released_before_its_next_incarnation(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    ledger = Ledger()
    stuck = ChildSpec("h", LeaseHolder, args=(ledger,), shutdown_timeout_s=0.2)
    tree = start_tree(
        SupervisorSpec("root", children=(ChildSpec("a", Worker), stuck), strategy=Strategy.ONE_FOR_ALL)
    )
    tree.faults.hang("h")  # h's next message is the stop of the one_for_all restart
    crash(tree, "a", 1)
    wait_event(tree, "started", "h", 2)
    assert trace(tree, "root")[2:] == [
        ("root", "exited", "a", 1),
        ("root", "abandoned", "h", 1),
        ("root", "restarting", "a", 1),
        ("root", "started", "a", 2),
        ("root", "restarting", "h", 1),
        ("root", "started", "h", 2),
    ]
    [(resource, thread)] = ledger.released
    assert (resource, thread.startswith("Supervisor-")) == ("h#1", True)


def test_release_runs_its_callback_exactly_once_across_threads() -> None:
    calls: list[int] = []
    lease = LeaseSet("x#1").acquire("slot", lambda: calls.append(1))
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def release() -> None:
        barrier.wait()
        results.append(lease.release())

    threads = [threading.Thread(target=release) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
    assert sorted(results) == [False] * 7 + [True]


def test_release_all_skips_released_leases_and_survives_a_failing_callback() -> None:
    leases = LeaseSet("x#1")
    calls: list[str] = []
    first = leases.acquire("first", lambda: calls.append("first"))
    leases.acquire("failing", lambda: 1 / 0)
    leases.acquire("last", lambda: calls.append("last"))
    assert first.release()
    leases.release_all()
    leases.release_all()
    assert calls == ["first", "last"]
    assert leases.held() == []


def test_acquiring_after_the_incarnation_ended_releases_at_once_and_says_so() -> None:
    leases = LeaseSet("x#1")
    leases.release_all()
    calls: list[str] = []
    with pytest.raises(LeaseSetClosed, match=r"x#1 acquired 'late' after its incarnation ended"):
        leases.acquire("late", lambda: calls.append("late"))
    assert calls == ["late"]
