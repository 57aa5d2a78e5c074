"""Small parts: outage logging without spam, handlers, and the shape of the session subtree."""

import pytest

from possync.actors.gateway._outage_log import OutageLog
from possync.actors.names import CONNECTION, SLOT_ALLOCATOR, STREAMS, UPDATES
from possync.actors.streaming._handlers import StreamHandlers
from possync.actors.tree import session_spec
from possync.config.settings import Settings
from possync.messages.domain import Contract, Observation, Source, utc_now
from possync.supervisors import ChildSpec, OnMaxIntensity, Strategy, SupervisedActor


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.timeout(10)
def test_an_outage_logs_one_warning_quiet_retries_a_reminder_and_the_recovery(
    log_lines: list[tuple[str, str]],
) -> None:
    clock = _Clock()
    outage = OutageLog(remind_every_s=60.0, clock=clock)
    for _ in range(10):
        outage.failed(ConnectionError("cannot connect to X"))
        clock.now += 10.0
    outage.connected("X")

    levels = [level for level, _text in log_lines]
    assert levels == ["WARNING", *["DEBUG"] * 5, "WARNING", *["DEBUG"] * 3, "INFO"]
    assert log_lines[-1][1] == "connected to X after 10 failed attempts over 100s"
    assert outage.failures == 0


@pytest.mark.timeout(10)
def test_handlers_are_called_until_removed_and_a_failing_one_is_skipped(
    log_lines: list[tuple[str, str]],
) -> None:
    handlers = StreamHandlers()
    seen: list[Observation] = []

    def broken(observation: Observation) -> None:
        raise RuntimeError("bug")

    remove_broken = handlers.add(broken)
    remove_seen = handlers.add(seen.append)
    observation = Observation("DU1", Contract(1, "X", "STK"), 1.0, 2.0, 3.0, Source.STREAM, utc_now())

    handlers.dispatch(observation)
    remove_broken()
    handlers.dispatch(observation)
    remove_seen()
    handlers.dispatch(observation)

    assert seen == [observation, observation]
    assert [level for level, text in log_lines if "failed" in text] == ["ERROR"]


@pytest.mark.timeout(10)
def test_the_session_subtree_is_rest_for_one_and_never_gives_up() -> None:
    spec = session_spec(Settings(), StreamHandlers(), workers=(ChildSpec("poller", SupervisedActor),))

    names = [child.name for child in spec.children]
    assert names == [CONNECTION, SLOT_ALLOCATOR, "poller", STREAMS, UPDATES], (
        "the dispatcher last: it restarts alone"
    )
    assert spec.strategy is Strategy.REST_FOR_ONE
    assert spec.on_max_intensity is OnMaxIntensity.PARK
    assert spec.backoff is not None and spec.backoff.random_factor > 0
    streams = spec.children[-2]
    assert streams.on_max_intensity is OnMaxIntensity.PARK
