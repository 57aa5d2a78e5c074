"""The decider maps an abnormal exit's exception to RESTART, STOP or ESCALATE."""

from collections.abc import Callable

from possync.supervisors import ChildSpec, ChildState, Decider, Directive, SupervisionTree, SupervisorSpec
from tests.supervisors.support import Worker, crash, trace, wait_event


def test_stop_leaves_the_child_down_and_other_errors_restart(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    decider = Decider({ValueError: Directive.STOP})
    tree = start_tree(
        SupervisorSpec("root", children=(ChildSpec("a", Worker), ChildSpec("b", Worker)), decider=decider)
    )
    crash(tree, "a", 1, UnicodeError("bad bytes"))  # a ValueError subclass
    wait_event(tree, "exited", "a", 1)
    crash(tree, "b", 1)
    wait_event(tree, "started", "b", 2)
    assert [(child.name, child.state) for child in tree.snapshot().children] == [
        ("a", ChildState.STOPPED),
        ("b", ChildState.RUNNING),
    ]
    assert trace(tree, "root")[2:] == [
        ("root", "exited", "a", 1),
        ("root", "exited", "b", 1),
        ("root", "restarting", "b", 1),
        ("root", "started", "b", 2),
    ]


def test_escalate_stops_the_children_and_lets_the_parent_restart_the_supervisor(
    start_tree: Callable[..., SupervisionTree],
) -> None:
    inner = SupervisorSpec(
        "inner",
        children=(ChildSpec("w", Worker), ChildSpec("x", Worker)),
        decider=Decider({PermissionError: Directive.ESCALATE}),
    )
    tree = start_tree(SupervisorSpec("root", children=(inner,)))
    crash(tree, "w", 1, PermissionError("gateway refused the login"))
    started = wait_event(tree, "started", "inner", 2)
    exited = next(event for event in tree.events.all() if event.kind == "exited" and event.child == "inner")
    assert exited.reason == (
        "Escalation: supervisor 'inner' gives up: its decider escalated the exit of 'w': "
        "PermissionError: gateway refused the login"
    )
    assert started.incarnation == 2
    assert trace(tree)[4:] == [
        ("inner", "exited", "w", 1),
        ("inner", "stopped", "x", 1),
        ("inner", "escalated", "w", 1),
        ("root", "exited", "inner", 1),
        ("root", "restarting", "inner", 1),
        ("inner", "started", "w", 2),
        ("inner", "started", "x", 2),
        ("root", "started", "inner", 2),
    ]
