"""Restart types: permanent always, transient only after an abnormal exit, temporary never."""

from collections.abc import Callable

import pytest

from possync.supervisors import ChildSpec, ChildState, Restart, SupervisionTree, SupervisorSpec
from tests.supervisors.support import Boom, Fail, StopSelf, Worker, trace, wait_event


@pytest.mark.parametrize(
    ("restart", "abnormal", "restarted"),
    [
        (Restart.PERMANENT, False, True),
        (Restart.PERMANENT, True, True),
        (Restart.TRANSIENT, False, False),
        (Restart.TRANSIENT, True, True),
        (Restart.TEMPORARY, False, False),
        (Restart.TEMPORARY, True, False),
    ],
)
def test_restart_type_decides_on_normal_and_abnormal_exits(
    start_tree: Callable[..., SupervisionTree], restart: Restart, abnormal: bool, restarted: bool
) -> None:
    spec = SupervisorSpec(
        "root", children=(ChildSpec("w", Worker, restart=restart), ChildSpec("other", Worker)), intensity=5
    )
    tree = start_tree(spec)
    w = tree.whereis("w")
    assert w is not None
    w.tell(Fail(Boom("w#1")) if abnormal else StopSelf())
    exited = wait_event(tree, "exited", "w", 1)
    assert exited.reason == ("Boom: w#1" if abnormal else "normal")
    if restarted:
        wait_event(tree, "started", "w", 2)
    else:
        assert [child.state for child in tree.snapshot().children] == [ChildState.STOPPED, ChildState.RUNNING]
    tree.stop()

    during = [("root", "restarting", "w", 1), ("root", "started", "w", 2)] if restarted else []
    shutdown = [("root", "stopped", "other", 1)] + ([("root", "stopped", "w", 2)] if restarted else [])
    assert trace(tree) == [
        ("root", "started", "w", 1),
        ("root", "started", "other", 1),
        ("tree", "started", "root", 1),
        ("root", "exited", "w", 1),
        *during,
        *shutdown,
        ("tree", "stopped", "root", 1),
    ]
