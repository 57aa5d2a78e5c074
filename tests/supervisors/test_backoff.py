"""Backoff between restarts: exponential from min to max, seeded jitter, reset after a quiet period."""

import random
from collections.abc import Callable

from possync.supervisors import Backoff, ChildSpec, FakeScheduler, SupervisionTree, SupervisorSpec
from tests.supervisors.support import Worker, crash, wait_event


def spec(backoff: Backoff) -> SupervisorSpec:
    return SupervisorSpec("root", children=(ChildSpec("w", Worker),), intensity=100, backoff=backoff)


def crash_and_restart(tree: SupervisionTree, scheduler: FakeScheduler, incarnation: int) -> float:
    """Crash w#incarnation, advance the fake clock by the announced backoff, wait for the restart."""
    crash(tree, "w", incarnation)
    backoff = wait_event(tree, "backoff", "w", incarnation)
    assert backoff.delay_s is not None
    scheduler.advance(backoff.delay_s)
    restarted = wait_event(tree, "started", "w", incarnation + 1)
    assert restarted.at == backoff.at + backoff.delay_s
    return backoff.delay_s


def test_delays_double_from_min_up_to_max(
    start_tree: Callable[..., SupervisionTree], scheduler: FakeScheduler
) -> None:
    tree = start_tree(spec(Backoff(min_s=1, max_s=8, random_factor=0)))
    delays = [crash_and_restart(tree, scheduler, incarnation) for incarnation in range(1, 6)]
    assert delays == [1, 2, 4, 8, 8]


def test_no_restart_happens_before_the_delay(
    start_tree: Callable[..., SupervisionTree], scheduler: FakeScheduler
) -> None:
    tree = start_tree(spec(Backoff(min_s=1, max_s=8, random_factor=0)))
    crash(tree, "w", 1)
    wait_event(tree, "backoff", "w", 1)
    scheduler.advance(0.99)
    assert tree.whereis("w") is None and scheduler.pending() == 1
    scheduler.advance(0.01)
    wait_event(tree, "started", "w", 2)


def test_jitter_is_seeded_and_deterministic(start_tree: Callable[..., SupervisionTree]) -> None:
    backoff = Backoff(min_s=1, max_s=8, random_factor=0.5)

    def delays(seed: int) -> list[float]:
        scheduler = FakeScheduler()
        tree = start_tree(spec(backoff), scheduler=scheduler, seed=seed)
        return [crash_and_restart(tree, scheduler, incarnation) for incarnation in (1, 2, 3)]

    rng = random.Random("7/root/1")  # the tree seed, the supervisor's name and incarnation
    expected = [base * (1 + rng.random() * 0.5) for base in (1, 2, 4)]
    assert delays(7) == expected
    assert delays(7) == expected
    assert delays(8) != expected
    assert all(base <= delay < base * 1.5 for base, delay in zip((1, 2, 4), delays(9), strict=True))


def test_the_delay_resets_once_an_incarnation_ran_quietly_for_reset_after_s(
    start_tree: Callable[..., SupervisionTree], scheduler: FakeScheduler
) -> None:
    tree = start_tree(spec(Backoff(min_s=1, max_s=8, random_factor=0, reset_after_s=10)))
    assert [crash_and_restart(tree, scheduler, incarnation) for incarnation in (1, 2)] == [1, 2]
    scheduler.advance(9.99)
    assert crash_and_restart(tree, scheduler, 3) == 4
    scheduler.advance(10)
    assert crash_and_restart(tree, scheduler, 4) == 1
