"""The gateway's connectivity and farm notices: 1100/1101/1102, 2103/2104, and silent streams."""

from collections.abc import Callable

import pytest

from possync.simulator import DemoPosition
from possync.supervisors import EventKind
from tests.helpers import holds_throughout, trading_hours_clock, wait_until
from tests.streaming.support import Harness, LineSampler

REQ_MKT_DATA = 1


def _ticks(harness: Harness) -> dict[int, int]:
    return {conid: harness.stream(conid).ticks for conid in harness.active}


def _all_tick_after(harness: Harness, before: dict[int, int]) -> bool:
    return all(ticks > before[conid] for conid, ticks in _ticks(harness).items())


def _halt_ticks(harness: Harness, halted: bool) -> None:
    """Stop (or restart) every tick while the gateway keeps answering (no admin fault does only that)."""
    market = harness.sim._gateway.market
    harness.sim._call(lambda: market.halt("test") if halted else market.lift("test"))


def _chat(harness: Harness, position: DemoPosition) -> bool:
    """Make the gateway send something (a position change): it is alive, only the streams are silent."""
    harness.sim.set_position(position.conid, position.position + 1, position.account)
    return True


def _subscribes(harness: Harness) -> int:
    return harness.sim.stats().requests.get(REQ_MKT_DATA, 0)


@pytest.mark.timeout(60)
def test_1101_resubscribes_every_stream(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=20, positions=40)
    harness.wait_streaming(set(harness.active))
    subscribes = _subscribes(harness)

    harness.sim.send_error(1101)

    wait_until(lambda: _subscribes(harness) == subscribes + 20, 30, message="every stream subscribed again")
    harness.wait_streaming(set(harness.active))
    ticks = _ticks(harness)
    wait_until(lambda: _all_tick_after(harness, ticks), 30)
    assert harness.incarnation("connection") == 1


@pytest.mark.timeout(60)
def test_1102_keeps_every_stream(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=20, positions=40, streams={"silent_after_s": 1.0})
    harness.wait_streaming(set(harness.active))
    # every line ticks first: at start the paced requests (lines, P&L, contract details) may keep a line
    # from its first tick longer than this test's 1 s silence limit, which is not what it is about
    wait_until(lambda: all(harness.stream(conid).ticks for conid in harness.active), 30, message="all tick")
    resubscribed = _resubscriptions(harness)
    subscribes = _subscribes(harness)

    with LineSampler(harness.sim) as sampler:
        harness.sim.send_error(1100)
        wait_until(lambda: all(harness.stream(conid).suspect for conid in harness.active), 10)
        harness.sim.send_error(1102)
        ticks = _ticks(harness)
        wait_until(lambda: _all_tick_after(harness, ticks), 30, message="ticks flow again")
        holds_throughout(lambda: _subscribes(harness) == subscribes, 2.0)

    assert sampler.minimum == sampler.maximum == 20, "no stream was dropped"
    assert not any(harness.stream(conid).suspect for conid in harness.active)
    assert _resubscriptions(harness) == resubscribed, "no stream was resubscribed over the 1100/1102"
    assert harness.incarnation("connection") == 1


@pytest.mark.timeout(60)
def test_1100_past_the_grace_period_reconnects(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=10, positions=20, ib={"lost_grace_s": 0.5})
    harness.wait_streaming(set(harness.active))

    harness.sim.send_error(1100)

    wait_until(lambda: harness.incarnation("connection") == 2, 30, message="reconnected")
    events = harness.tree.events.all()
    exits = [e.reason for e in events if e.child == "connection" and e.kind is EventKind.EXITED]
    assert exits == ["GatewayLost: IB connectivity lost (1100) for more than 0.5s"]
    harness.wait_streaming(set(harness.active))
    harness.sim.send_error(1102)  # the simulated gateway streams again once IB is back
    ticks = _ticks(harness)
    wait_until(lambda: _all_tick_after(harness, ticks), 30)


@pytest.mark.timeout(60)
def test_a_broken_farm_makes_streams_suspect_until_it_is_ok(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=5, positions=20, streams={"silent_after_s": 0.3})
    harness.wait_streaming(set(harness.active))

    harness.sim.send_error(2103)

    wait_until(lambda: all(harness.stream(conid).suspect for conid in harness.active), 10)
    assert harness.connection().suspect == ("Market data farm connection is broken:usfarm",)
    holds_throughout(lambda: sum(harness.stream(c).resubscriptions for c in harness.active) == 0, 1.0)

    harness.sim.send_error(2104)

    wait_until(lambda: not any(harness.stream(conid).suspect for conid in harness.active), 10)
    ticks = _ticks(harness)
    wait_until(lambda: _all_tick_after(harness, ticks), 30)
    assert harness.connection().suspect == ()


@pytest.mark.timeout(60)
def test_a_silent_stream_is_resubscribed(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(
        active_count=5, positions=20, sim=trading_hours_clock(), streams={"silent_after_s": 0.5}
    )
    harness.wait_streaming(set(harness.active))
    subscribes = _subscribes(harness)

    _halt_ticks(harness, True)  # the streams fall silent while the gateway keeps sending other data
    chatty = harness.sim.positions()[-1]
    wait_until(
        lambda: _chat(harness, chatty) and all(harness.stream(c).resubscriptions for c in harness.active)
    )
    _halt_ticks(harness, False)

    wait_until(lambda: _subscribes(harness) >= subscribes + 5, 30)
    harness.wait_streaming(set(harness.active))
    ticks = _ticks(harness)
    wait_until(lambda: _all_tick_after(harness, ticks), 30)


def _resubscriptions(harness: Harness) -> int:
    return sum(harness.stream(conid).resubscriptions for conid in harness.active)
