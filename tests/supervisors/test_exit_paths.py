"""Every exit path of a SupervisedActor ends it alone, unregisters it, and sends the notices once."""

from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from possync.supervisors import (
    ChildContext,
    ChildExited,
    FakeScheduler,
    SupervisionTree,
    SupervisorSpec,
    Terminated,
)
from tests.helpers import wait_until
from tests.supervisors.support import Boom, Fail, FailingStart, Inbox, Nudge, Worker, received, running


class CrashOnAsk(Worker):
    """Opts in: an exception in an ask handler ends the actor."""

    crash_on_ask_error = True


class FailingOnFailure(Worker):
    """Its on_failure raises a BaseException (which pykka would let escape its loop)."""

    def on_failure(self, *exc_info: Any) -> None:
        raise SystemExit("on_failure gave up")


class FailureRecorder(Worker):
    """Records the exception type of each on_failure call in `calls`."""

    def __init__(self, ctx: ChildContext | None, calls: list[type[BaseException]]) -> None:
        super().__init__(ctx)
        self.calls = calls

    def on_failure(self, exception_type: Any, *rest: Any) -> None:
        self.calls.append(exception_type)


class Bystander(pykka.ThreadingActor):
    """A host's own pykka actor, outside any tree."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        return "still here"


@pytest.fixture
def services() -> Iterator[SupervisionTree]:
    """An unstarted tree, used only for its services (names, faults) by hand-made contexts."""
    tree = SupervisionTree(SupervisorSpec("unused"), scheduler=FakeScheduler())
    yield tree
    tree.stop()


@pytest.fixture
def bystander() -> Iterator[pykka.ActorRef[Bystander]]:
    with running(Bystander) as ref:
        yield ref


def start_child(
    services: SupervisionTree, actor_class: type[Worker], *args: Any
) -> tuple[pykka.ActorRef[Any], ChildContext, list[ChildExited]]:
    """Start `actor_class` as incarnation 1 of "child", with a list collecting what it tells its parent."""
    notices: list[ChildExited] = []
    ctx = ChildContext("child", services.names.next_incarnation("child"), services, notices.append)
    services.names.claim("child", "test")
    ref = actor_class.start(ctx, *args)
    services.names.register("child", 1, ref)
    return ref, ctx, notices


def stop(ref: pykka.ActorRef[Any]) -> None:
    ref.stop(timeout=5)


def tell(error: BaseException) -> Callable[[pykka.ActorRef[Any]], None]:
    return lambda ref: ref.tell(Fail(error))


def ask(error: BaseException, caller_sees: type[BaseException]) -> Callable[[pykka.ActorRef[Any]], None]:
    def trigger(ref: pykka.ActorRef[Any]) -> None:
        with pytest.raises(caller_sees):
            ref.ask(Fail(error), timeout=5)

    return trigger


def nothing(ref: pykka.ActorRef[Any]) -> None:
    """The exit happens in on_start by itself."""


EXIT_PATHS = [
    pytest.param(Worker, (), stop, None, id="normal stop"),
    pytest.param(Worker, (), tell(Boom("tell")), Boom, id="crash in a tell handler"),
    pytest.param(CrashOnAsk, (), ask(Boom("ask"), Boom), Boom, id="crash in an ask handler, opted in"),
    pytest.param(FailingStart, (Boom("start"),), nothing, Boom, id="failure in on_start"),
    pytest.param(Worker, (), tell(SystemExit(3)), SystemExit, id="BaseException in a tell handler"),
    pytest.param(
        Worker,
        (),
        ask(KeyboardInterrupt(), pykka.ActorDeadError),
        KeyboardInterrupt,
        id="BaseException in an ask handler",
    ),
    pytest.param(FailingStart, (SystemExit(2),), nothing, SystemExit, id="BaseException in on_start"),
    pytest.param(FailingOnFailure, (), tell(Boom("tell")), Boom, id="BaseException from on_failure"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("actor_class", "args", "trigger", "error_type"), EXIT_PATHS)
def test_every_exit_path_sends_one_notice_and_ends_only_this_actor(
    services: SupervisionTree,
    bystander: pykka.ActorRef[Bystander],
    watcher: pykka.ActorRef[Inbox],
    actor_class: type[Worker],
    args: tuple[Any, ...],
    trigger: Callable[[pykka.ActorRef[Any]], None],
    error_type: type[BaseException] | None,
) -> None:
    ref, ctx, notices = start_child(services, actor_class, *args)
    services.watch(watcher, "child")
    trigger(ref)

    assert ctx.wait_ended(5)
    [notice] = notices
    assert (notice.name, notice.incarnation) == ("child", 1)
    if error_type is None:
        assert notice.reason.normal
    else:
        assert type(notice.reason.error) is error_type
    assert ctx.reason == notice.reason
    assert ctx.leases.closed
    assert not ref.is_alive()
    assert ref not in pykka.ActorRegistry.get_all()
    assert wait_until(lambda: received(watcher)) == [Terminated("child", 1, notice.reason)]
    assert bystander.ask("are you there?", timeout=5) == "still here"


def test_a_crash_in_an_ask_handler_keeps_an_actor_that_did_not_opt_in(services: SupervisionTree) -> None:
    ref, ctx, notices = start_child(services, Worker)
    with pytest.raises(Boom):
        ref.ask(Fail(Boom("ask")), timeout=5)
    assert ref.ask(Nudge(), timeout=5) == 1
    assert notices == []
    ref.stop(timeout=5)
    assert ctx.wait_ended(5)
    assert [notice.reason.normal for notice in notices] == [True]


@pytest.mark.parametrize(
    ("actor_class", "trigger", "expected"),
    [
        pytest.param(FailureRecorder, tell(Boom("tell")), [Boom], id="tell crash"),
        pytest.param(FailureRecorder, tell(SystemExit(1)), [SystemExit], id="BaseException"),
    ],
)
def test_on_failure_runs_once_in_the_dying_actor(
    services: SupervisionTree,
    actor_class: type[Worker],
    trigger: Callable[[pykka.ActorRef[Any]], None],
    expected: list[type[BaseException]],
) -> None:
    calls: list[type[BaseException]] = []
    ref, ctx, _notices = start_child(services, actor_class, calls)
    trigger(ref)
    assert ctx.wait_ended(5)
    assert calls == expected


def test_on_failure_runs_for_an_opted_in_ask_crash(services: SupervisionTree) -> None:
    class Recorder(FailureRecorder):
        crash_on_ask_error = True

    calls: list[type[BaseException]] = []
    ref, ctx, _notices = start_child(services, Recorder, calls)
    with pytest.raises(Boom):
        ref.ask(Fail(Boom("ask")), timeout=5)
    assert ctx.wait_ended(5)
    assert calls == [Boom]


def test_a_standalone_actor_survives_a_base_exception_alone(bystander: pykka.ActorRef[Bystander]) -> None:
    ref = Worker.start()
    assert ref.ask(Nudge(), timeout=5) == 0
    ref.tell(Fail(KeyboardInterrupt()))
    wait_until(lambda: not ref.is_alive())
    assert ref not in pykka.ActorRegistry.get_all()
    assert bystander.ask("are you there?", timeout=5) == "still here"
