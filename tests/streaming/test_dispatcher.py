"""UpdateDispatcherActor in a real tree: handlers get every observation, one at a time, in arrival order."""

import threading
import time
from collections.abc import Iterator

import pytest

from possync.actors.names import UPDATES
from possync.actors.streaming._dispatcher import UpdateDispatcherActor
from possync.actors.streaming._handlers import StreamHandlers
from possync.messages.domain import Contract, Observation, Source, utc_now
from possync.messages.streams import Updates
from possync.supervisors import ChildSpec, SupervisionTree, SupervisorSpec
from tests.helpers import holds_throughout, wait_until

AAPL = Contract(265598, "AAPL", "STK")


def row(oid: int, account: str = "DU1") -> Observation:
    """An observation whose `position` is its id."""
    return Observation(account, AAPL, float(oid), 150.0, 151.0, Source.STREAM, utc_now())


def ids(rows: list[Observation]) -> list[int]:
    return [int(r.position) for r in list(rows)]


@pytest.fixture
def handlers() -> StreamHandlers:
    return StreamHandlers()


@pytest.fixture
def tree(handlers: StreamHandlers) -> Iterator[SupervisionTree]:
    """A started tree running the dispatcher as UPDATES; stopped after the test."""
    spec = SupervisorSpec(
        "dispatcher-test", children=(ChildSpec(UPDATES, UpdateDispatcherActor, args=(handlers,)),)
    )
    started = SupervisionTree(spec).start()
    yield started
    started.stop()


def test_every_handler_gets_every_observation_in_arrival_order(
    tree: SupervisionTree, handlers: StreamHandlers
) -> None:
    first: list[Observation] = []
    second: list[Observation] = []
    handlers.add(first.append)
    handlers.add(second.append)
    dispatcher = tree.whereis(UPDATES)
    assert dispatcher is not None

    dispatcher.tell(Updates((row(1), row(2), row(3))))
    dispatcher.tell(Updates((row(4),)))
    dispatcher.tell(Updates((row(5), row(6))))

    wait_until(lambda: len(first) == 6 and len(second) == 6, 5, message="six rows dispatched")
    assert ids(first) == ids(second) == [1, 2, 3, 4, 5, 6]


def test_handlers_never_run_at_once_even_when_updates_come_from_many_threads(
    tree: SupervisionTree, handlers: StreamHandlers
) -> None:
    lock = threading.Lock()
    running = {"now": 0, "most": 0}
    seen: list[Observation] = []
    callers: set[str] = set()

    def slowish(observation: Observation) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        callers.add(threading.current_thread().name)
        time.sleep(0.001)  # widen the window in which a second call would overlap
        seen.append(observation)
        with lock:
            running["now"] -= 1

    handlers.add(slowish)
    handlers.add(slowish)
    dispatcher = tree.whereis(UPDATES)
    assert dispatcher is not None

    def send(account: str) -> None:
        for oid in range(20):
            dispatcher.tell(Updates((row(oid, account),)))

    senders = [threading.Thread(target=send, args=(f"DU{n}",)) for n in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(5)

    wait_until(lambda: len(seen) == 2 * 4 * 20, 10, message="every row dispatched to both handlers")
    assert running["most"] == 1
    assert threading.current_thread().name not in callers
    assert len(callers) == 1
    for n in range(4):
        mine = [r for r in seen if r.account == f"DU{n}"]
        assert ids(mine) == [oid for oid in range(20) for _ in range(2)]  # each sender's order kept


def test_a_slow_handler_delays_only_the_next_observations_not_the_sender(
    tree: SupervisionTree, handlers: StreamHandlers
) -> None:
    entered = threading.Event()
    go_on = threading.Event()
    seen: list[Observation] = []

    def blocking(observation: Observation) -> None:
        entered.set()
        go_on.wait(5)
        seen.append(observation)

    handlers.add(blocking)
    dispatcher = tree.whereis(UPDATES)
    assert dispatcher is not None

    started = time.monotonic()
    dispatcher.tell(Updates((row(1),)))
    dispatcher.tell(Updates((row(2),)))
    assert time.monotonic() - started < 1.0  # the sender never waits for a handler
    wait_until(entered.is_set, 5, message="the handler was called")
    holds_throughout(lambda: seen == [], 0.2, "no second call while the first one runs")

    go_on.set()

    wait_until(lambda: len(seen) == 2, 5, message="both rows dispatched")
    assert ids(seen) == [1, 2]


def test_a_failing_handler_is_skipped_and_dispatching_goes_on(
    tree: SupervisionTree, handlers: StreamHandlers
) -> None:
    failing_calls: list[Observation] = []
    seen: list[Observation] = []

    def failing(observation: Observation) -> None:
        failing_calls.append(observation)
        raise RuntimeError("handler bug")

    handlers.add(failing)
    handlers.add(seen.append)
    dispatcher = tree.whereis(UPDATES)
    assert dispatcher is not None

    dispatcher.tell(Updates((row(1), row(2))))
    dispatcher.tell(Updates((row(3),)))

    wait_until(lambda: len(seen) == 3, 5, message="every row reached the healthy handler")
    assert ids(seen) == [1, 2, 3]
    assert ids(failing_calls) == [1, 2, 3]
    assert tree.whereis(UPDATES) is dispatcher  # not crashed and restarted


def test_an_unexpected_message_is_ignored_and_the_dispatcher_keeps_running(
    tree: SupervisionTree, handlers: StreamHandlers
) -> None:
    seen: list[Observation] = []
    handlers.add(seen.append)
    dispatcher = tree.whereis(UPDATES)
    assert dispatcher is not None

    dispatcher.tell("not an Updates")
    assert dispatcher.ask(row(9), timeout=5) is None  # a bare observation is not dispatched either
    dispatcher.tell(Updates((row(1),)))

    wait_until(lambda: len(seen) == 1, 5, message="the next Updates dispatched")
    assert ids(seen) == [1]
    assert tree.whereis(UPDATES) is dispatcher
