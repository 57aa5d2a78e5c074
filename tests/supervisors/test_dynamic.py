"""DynamicSupervisor: children added and removed at run time, one_for_one."""

from collections.abc import Callable

import pytest

from possync.supervisors import (
    ChildSpec,
    ChildStarted,
    DynamicSupervisor,
    NoSuchActor,
    Restart,
    StartChild,
    StartFailure,
    SupervisionTree,
    SupervisorSpec,
)
from tests.supervisors.support import Boom, FailingStart, Nudge, Worker, crash, trace, wait_event

STREAMS = SupervisorSpec("streams", actor_class=DynamicSupervisor, intensity=5)


def tree_with_streams(start_tree: Callable[..., SupervisionTree]) -> SupervisionTree:
    return start_tree(SupervisorSpec("root", children=(ChildSpec("registry", Worker), STREAMS)))


def children(tree: SupervisionTree) -> list[tuple[str, str, int]]:
    [streams] = [child for child in tree.snapshot().children if child.name == "streams"]
    return [(child.name, child.state.value, child.incarnation) for child in streams.children]


def test_children_are_added_and_removed_at_run_time(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = tree_with_streams(start_tree)
    ref = tree.start_child("streams", ChildSpec("stream-1", Worker))
    assert ref.ask(Nudge(), timeout=5) == 1
    tree.start_child("streams", ChildSpec("stream-2", Worker))
    assert children(tree) == [("stream-1", "running", 1), ("stream-2", "running", 1)]
    assert tree.stop_child("streams", "stream-1") is True
    assert tree.stop_child("streams", "stream-1") is False
    assert tree.whereis("stream-1") is None
    assert children(tree) == [("stream-2", "running", 1)]
    assert trace(tree, "streams") == [
        ("streams", "started", "stream-1", 1),
        ("streams", "started", "stream-2", 1),
        ("streams", "stopped", "stream-1", 1),
    ]


def test_start_child_is_a_plain_message_too(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = tree_with_streams(start_tree)
    streams = tree.whereis("streams")
    assert streams is not None
    reply = streams.ask(StartChild(ChildSpec("stream-1", Worker)), timeout=10)
    assert isinstance(reply, ChildStarted) and (reply.name, reply.incarnation) == ("stream-1", 1)


def test_refusals_say_why_and_keep_nothing(start_tree: Callable[..., SupervisionTree]) -> None:
    tree = tree_with_streams(start_tree)
    tree.start_child("streams", ChildSpec("stream-1", Worker))
    with pytest.raises(StartFailure, match="'stream-1' is already a child of 'streams'"):
        tree.start_child("streams", ChildSpec("stream-1", Worker))
    with pytest.raises(StartFailure, match="'registry' is already used under supervisor 'root'"):
        tree.start_child("streams", ChildSpec("registry", Worker))
    with pytest.raises(StartFailure, match="did not start 'bad': Boom: refused"):
        tree.start_child("streams", ChildSpec("bad", FailingStart, args=(Boom("refused"),)))
    with pytest.raises(TypeError, match="'root' is not a DynamicSupervisor"):
        tree.start_child("root", ChildSpec("stream-2", Worker))
    with pytest.raises(NoSuchActor, match="no supervisor named 'nowhere'"):
        tree.start_child("nowhere", ChildSpec("stream-2", Worker))
    assert children(tree) == [("stream-1", "running", 1)]


def test_a_crashed_child_restarts_unless_temporary_which_is_removed(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = tree_with_streams(start_tree)
    tree.start_child("streams", ChildSpec("kept", Worker))
    tree.start_child("streams", ChildSpec("once", Worker, restart=Restart.TEMPORARY))
    crash(tree, "kept", 1)
    crash(tree, "once", 1)
    wait_event(tree, "started", "kept", 2)
    wait_event(tree, "exited", "once", 1)
    assert children(tree) == [("kept", "running", 2)]
    tree.start_child("streams", ChildSpec("once", Worker))  # its name is free again
    assert children(tree) == [("kept", "running", 2), ("once", "running", 2)]


def test_a_restarted_dynamic_supervisor_comes_back_without_its_added_children(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    tree = tree_with_streams(start_tree)
    tree.start_child("streams", ChildSpec("stream-1", Worker))
    tree.faults.crash_next("streams")
    tree.whereis("streams").tell(Nudge())  # type: ignore[union-attr]
    wait_event(tree, "started", "streams", 2)
    assert children(tree) == []
    assert trace(tree)[3:] == [
        ("streams", "started", "stream-1", 1),
        ("streams", "stopped", "stream-1", 1),
        ("root", "exited", "streams", 1),
        ("root", "restarting", "streams", 1),
        ("root", "started", "streams", 2),
    ]
    tree.start_child("streams", ChildSpec("stream-1", Worker))
