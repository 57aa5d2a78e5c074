"""SelfTimer and TreeActor in a real tree on a fake scheduler: delayed self-tells, replacing, cancelling."""

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from possync.actors._tree_actor import TreeActor
from possync.supervisors import ChildContext, ChildSpec, FakeScheduler, SupervisionTree, SupervisorSpec
from tests.helpers import wait_until

TICKER = "ticker"


class Tick(msgspec.Struct, frozen=True):
    n: int


class Arm(msgspec.Struct, frozen=True):
    delay_s: float
    message: Tick


class Cancel(msgspec.Struct, frozen=True):
    pass


class Now(msgspec.Struct, frozen=True):
    """Ask: the actor's `now()`; also proves that everything told before it has been handled."""


class Crash(msgspec.Struct, frozen=True):
    pass


class Ticker(TreeActor):
    """Arms and cancels its self-timer on request; records every Tick it receives."""

    def __init__(self, ctx: ChildContext | None, received: list[Tick]) -> None:
        super().__init__(ctx)
        self._received = received

    def on_receive(self, message: Any) -> Any:
        match message:
            case Arm(delay_s=delay_s, message=tick):
                self.timer.arm(delay_s, tick)
            case Cancel():
                self.timer.cancel()
            case Now():
                return self.now()
            case Crash():
                raise RuntimeError("ticker crashed")
            case Tick():
                self._received.append(message)
        return None


@pytest.fixture
def scheduler() -> FakeScheduler:
    return FakeScheduler()


@pytest.fixture
def received() -> list[Tick]:
    return []


@pytest.fixture
def tree(scheduler: FakeScheduler, received: list[Tick]) -> Iterator[SupervisionTree]:
    """A started tree on the fake scheduler, running one Ticker; stopped after the test."""
    spec = SupervisorSpec(
        "tree-actor-test", children=(ChildSpec(TICKER, Ticker, args=(received,)),), intensity=5
    )
    started = SupervisionTree(spec, scheduler=scheduler).start()
    yield started
    started.stop()


def ask(tree: SupervisionTree, message: Any) -> Any:
    ref = wait_until(lambda: tree.whereis(TICKER), 5, message="ticker running")
    return ref.ask(message, timeout=5)


def test_an_armed_message_arrives_after_its_delay_on_the_tree_clock_and_not_before(
    tree: SupervisionTree, scheduler: FakeScheduler, received: list[Tick]
) -> None:
    ask(tree, Arm(5.0, Tick(1)))

    scheduler.advance(4.9)
    ask(tree, Now())
    assert received == []

    scheduler.advance(0.1)
    ask(tree, Now())
    assert received == [Tick(1)]


def test_arming_again_replaces_the_pending_message(
    tree: SupervisionTree, scheduler: FakeScheduler, received: list[Tick]
) -> None:
    ask(tree, Arm(5.0, Tick(1)))
    ask(tree, Arm(2.0, Tick(2)))
    assert scheduler.pending() == 1

    scheduler.advance(10.0)
    ask(tree, Now())

    assert received == [Tick(2)]


def test_a_cancelled_message_never_arrives(
    tree: SupervisionTree, scheduler: FakeScheduler, received: list[Tick]
) -> None:
    ask(tree, Arm(5.0, Tick(1)))

    ask(tree, Cancel())
    scheduler.advance(10.0)
    ask(tree, Now())

    assert received == []
    assert scheduler.pending() == 0


def test_a_negative_delay_means_now(
    tree: SupervisionTree, scheduler: FakeScheduler, received: list[Tick]
) -> None:
    ask(tree, Arm(-1.0, Tick(1)))

    scheduler.advance(0.0)
    ask(tree, Now())

    assert received == [Tick(1)]


def test_now_reads_the_trees_clock(tree: SupervisionTree, scheduler: FakeScheduler) -> None:
    start = ask(tree, Now())

    scheduler.advance(42.0)

    assert ask(tree, Now()) == start + 42.0


def test_stopping_the_actor_drops_its_pending_message(
    tree: SupervisionTree, scheduler: FakeScheduler
) -> None:
    ask(tree, Arm(5.0, Tick(1)))
    assert scheduler.pending() == 1

    tree.stop()

    assert scheduler.pending() == 0


def test_a_message_armed_before_a_crash_does_not_reach_the_restarted_actor(
    tree: SupervisionTree, scheduler: FakeScheduler, received: list[Tick]
) -> None:
    ask(tree, Arm(5.0, Tick(1)))
    crashed = tree.whereis(TICKER)
    assert crashed is not None

    crashed.tell(Crash())
    wait_until(lambda: tree.whereis(TICKER) not in (None, crashed), 5, message="ticker restarted")
    scheduler.advance(5.0)  # the crashed incarnation's timer fires: dropped quietly
    ask(tree, Now())

    assert received == []


def test_a_tree_actor_started_outside_a_tree_is_refused() -> None:
    with pytest.raises(TypeError, match="ChildSpec"):
        Ticker.start(None, [])
