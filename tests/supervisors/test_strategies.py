"""one_for_one, one_for_all and rest_for_one restart exactly the children they should, in order."""

from collections.abc import Callable

import pytest

from possync.supervisors import ChildSpec, Strategy, SupervisionTree, SupervisorSpec
from tests.supervisors.support import Worker, crash, trace, wait_event

CHILDREN = tuple(ChildSpec(name, Worker) for name in ("a", "b", "c"))


def restarted(*names: str) -> list[tuple[str, str, str, int]]:
    return [
        step for name in names for step in (("root", "restarting", name, 1), ("root", "started", name, 2))
    ]


@pytest.mark.parametrize(
    ("strategy", "crashed", "stopped_first", "restarts"),
    [
        (Strategy.ONE_FOR_ONE, "b", [], ["b"]),
        (Strategy.ONE_FOR_ALL, "b", ["c", "a"], ["a", "b", "c"]),
        (Strategy.REST_FOR_ONE, "b", ["c"], ["b", "c"]),
        (Strategy.REST_FOR_ONE, "a", ["c", "b"], ["a", "b", "c"]),
        (Strategy.REST_FOR_ONE, "c", [], ["c"]),
    ],
)
def test_strategy_restarts_exactly_its_group(
    start_tree: Callable[..., SupervisionTree],
    strategy: Strategy,
    crashed: str,
    stopped_first: list[str],
    restarts: list[str],
) -> None:
    tree = start_tree(SupervisorSpec("root", children=CHILDREN, strategy=strategy, intensity=5))
    crash(tree, crashed, 1)
    wait_event(tree, "started", restarts[-1], 2)
    tree.stop()

    incarnation = {name: 2 if name in restarts else 1 for name in "abc"}
    assert trace(tree) == [
        ("root", "started", "a", 1),
        ("root", "started", "b", 1),
        ("root", "started", "c", 1),
        ("tree", "started", "root", 1),
        ("root", "exited", crashed, 1),
        *[("root", "stopped", name, 1) for name in stopped_first],
        *restarted(*restarts),
        *[("root", "stopped", name, incarnation[name]) for name in "cba"],
        ("tree", "stopped", "root", 1),
    ]
