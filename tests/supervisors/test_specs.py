"""Bad specs are refused at construction with an error naming the field, the value and the fix."""

import pytest

from possync.supervisors import (
    Backoff,
    ChildSpec,
    DynamicSupervisor,
    FakeClock,
    FakeScheduler,
    Strategy,
    SupervisionTree,
    Supervisor,
    SupervisorSpec,
)
from tests.supervisors.support import Worker


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ChildSpec("", Worker), "ChildSpec '': name='' is invalid: must be a non-empty str"),
        (lambda: ChildSpec("a", dict), "actor_class=<class 'dict'> is invalid: must be a subclass of"),
        (lambda: ChildSpec("a", Worker, restart="sometimes"), "use one of Restart.PERMANENT"),
        (lambda: ChildSpec("a", Worker, shutdown_timeout_s=0), "shutdown_timeout_s=0 is invalid"),
        (lambda: Backoff(min_s=2, max_s=1), "Backoff: max_s=1 is invalid: must be at least min_s=2"),
        (
            lambda: SupervisorSpec("s", children=(ChildSpec("a", Worker), ChildSpec("a", Worker))),
            "child names repeat in ['a', 'a']",
        ),
        (lambda: SupervisorSpec("s", intensity=-1), "intensity=-1 is invalid: must be an int >= 0"),
        (lambda: SupervisorSpec("s", children=("a",)), "each child must be a ChildSpec or a SupervisorSpec"),
        (
            lambda: SupervisorSpec("s", actor_class=DynamicSupervisor, strategy=Strategy.ONE_FOR_ALL),
            "DynamicSupervisor runs only one_for_one",
        ),
        (lambda: SupervisorSpec("s", actor_class=Worker), "must be None (Supervisor), DynamicSupervisor"),
    ],
)
def test_bad_specs_are_refused_clearly(build: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        build()  # type: ignore[operator]
    assert message in str(raised.value)


def test_supervisor_timeouts_default_to_the_sum_of_their_childrens_plus_a_margin() -> None:
    spec = SupervisorSpec(
        "s", children=(ChildSpec("a", Worker, shutdown_timeout_s=1), ChildSpec("b", Worker))
    )
    assert (spec.shutdown_timeout_s, spec.start_timeout_s) == (11.0, 15.0)


def test_tree_wide_names_must_be_unique() -> None:
    inner = SupervisorSpec("inner", children=(ChildSpec("a", Worker),))
    with pytest.raises(ValueError, match=r"names \['a'\] are used more than once"):
        SupervisionTree(SupervisorSpec("root", children=(ChildSpec("a", Worker), inner)))


def test_a_fake_clock_gets_a_fake_scheduler_and_a_mismatch_is_refused() -> None:
    clock = FakeClock()
    tree = SupervisionTree(SupervisorSpec("root"), clock=clock)
    assert isinstance(tree.scheduler, FakeScheduler) and tree.clock is clock
    with pytest.raises(ValueError, match=r"clock is not scheduler\.clock"):
        SupervisionTree(SupervisorSpec("root"), clock=clock, scheduler=FakeScheduler())


def test_a_supervisor_needs_a_tree() -> None:
    with pytest.raises(TypeError, match="a Supervisor runs inside a tree"):
        Supervisor(None, SupervisorSpec("s"))
