"""Death watch of non-children, and stable names across restarts."""

from collections.abc import Callable
from typing import Any

import pykka
import pytest

from possync.supervisors import ChildSpec, NoSuchActor, Restart, SupervisionTree, SupervisorSpec, Terminated
from tests.helpers import wait_until
from tests.supervisors.support import Nudge, StopSelf, Worker, crash, received, wait_event

SPEC = SupervisorSpec(
    "root",
    children=(ChildSpec("w", Worker), ChildSpec("once", Worker, restart=Restart.TEMPORARY)),
    intensity=5,
)


def test_a_watcher_is_told_when_the_watched_incarnation_ends(
    start_tree: Callable[..., SupervisionTree], watcher: pykka.ActorRef[Any]
) -> None:
    tree = start_tree(SPEC)
    tree.watch(watcher, "w")
    crash(tree, "w", 1)
    [notice] = wait_until(lambda: received(watcher))
    assert (notice.name, notice.incarnation, str(notice.reason)) == ("w", 1, "Boom: w#1")
    crash(tree, "w", 2)  # not watched: a watch covers one incarnation
    wait_event(tree, "started", "w", 3)
    assert received(watcher) == [notice]


def test_watching_an_actor_that_already_ended_notifies_at_once(
    start_tree: Callable[..., SupervisionTree], watcher: pykka.ActorRef[Any]
) -> None:
    tree = start_tree(SPEC)
    tree.whereis("once").tell(StopSelf())  # type: ignore[union-attr]
    wait_event(tree, "exited", "once", 1)
    tree.watch(watcher, "once")
    assert wait_until(lambda: received(watcher)) == [Terminated("once", 1, received(watcher)[0].reason)]
    assert received(watcher)[0].reason.normal


def test_watching_an_unknown_name_notifies_at_once_with_no_such_actor(
    start_tree: Callable[..., SupervisionTree], watcher: pykka.ActorRef[Any]
) -> None:
    tree = start_tree(SPEC)
    tree.watch(watcher, "nobody")
    [notice] = wait_until(lambda: received(watcher))
    assert (notice.name, notice.incarnation) == ("nobody", 0)
    assert isinstance(notice.reason.error, NoSuchActor)


def test_names_resolve_to_the_current_incarnation_across_restarts(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = start_tree(SPEC)
    first = tree.whereis("w")
    assert first is not None and first.ask(Nudge(), timeout=5) == 1
    crash(tree, "w", 1)
    wait_event(tree, "started", "w", 2)
    second = tree.whereis("w")
    assert second is not None and second is not first
    assert second.ask(Nudge(), timeout=5) == 2
    with pytest.raises(pykka.ActorDeadError):
        first.ask(Nudge(), timeout=5)
    assert tree.whereis("nobody") is None
