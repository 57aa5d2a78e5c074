"""IbSession against the simulator: paced, ordered requests; refusals; a clean close."""

from collections.abc import Callable
from typing import Any

import pytest

from possync.messages.connection import GatewayDisconnected, GatewaySilence, SubscriptionFailed
from possync.messages.domain import Contract, Observation, Tick
from possync.messages.slots import SlotLease
from possync.simulator import Simulator
from possync.simulator.protocol import In
from tests.helpers import wait_until
from tests.streaming.support import Recording, active


@pytest.mark.timeout(30)
def test_a_subscription_cancelled_before_it_went_out_costs_no_request(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory(positions=60)
    session = session_on(sim, Recording())
    contracts = sim.positions()[:50]
    leases = [SlotLease(i, 1) for i in range(50)]
    for lease, position in zip(leases, contracts, strict=True):
        session.subscribe(lease, _contract(position), _ignore)
    for lease in leases:
        session.unsubscribe(lease)

    wait_until(lambda: session.requests_pending == 0, 10)
    assert session.requests_sent < 10, "the paced queue dropped what was cancelled before it was sent"
    wait_until(lambda: sim.stats().subscriptions == 0, 10)


@pytest.mark.timeout(30)
def test_a_storm_of_subscriptions_is_paced_below_the_gateway_limit(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory(positions=100)
    session = session_on(sim, Recording())
    ticked: set[int] = set()
    for i, position in enumerate(sim.positions()):
        session.subscribe(SlotLease(i, 1), _contract(position), lambda _tick, i=i: ticked.add(i) or ())

    wait_until(lambda: sim.stats().subscriptions == 100, 20)
    assert sim.stats().pacing_violations == 0
    assert session.pacing_delays >= 50
    wait_until(lambda: ticked == set(range(100)), 10, message="every line ticks")


@pytest.mark.timeout(30)
def test_a_refused_subscription_is_reported_and_holds_nothing(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory(positions=10, max_lines=1)
    events = Recording()
    session = session_on(sim, events)
    first, second = sim.positions()[:2]
    session.subscribe(SlotLease(1, 1), _contract(first), _ignore)
    session.subscribe(SlotLease(2, 1), _contract(second), _ignore)

    wait_until(lambda: events.all(SubscriptionFailed), 10)
    assert events.all(SubscriptionFailed)[0].lease == SlotLease(2, 1)
    assert events.all(SubscriptionFailed)[0].code == 101
    wait_until(lambda: session.requests_pending == 0, 10)
    assert sim.stats().subscriptions == 1


@pytest.mark.timeout(30)
def test_a_dropped_socket_is_reported(simulator_factory: Callable[..., Simulator], session_on: Any) -> None:
    sim = simulator_factory(positions=5)
    events = Recording()
    session_on(sim, events)

    sim.drop_all()

    wait_until(lambda: events.all(GatewayDisconnected), 10)


def _contract(position: Any) -> Contract:
    return active(position).contract


def _ignore(tick: Tick) -> tuple[Observation, ...]:
    """A line's tick handler that drops the ticks (and makes no observation)."""
    return ()


@pytest.mark.timeout(30)
def test_a_quiet_gateway_that_answers_a_ping_is_not_silent_and_a_hung_one_is(
    simulator_factory: Callable[..., Simulator], session_on: Any
) -> None:
    sim = simulator_factory(positions=5)
    events = Recording()
    session_on(sim, events, silence_s=0.3)  # no line: nothing comes unless asked

    pings = lambda: sim.stats().requests.get(In.REQ_CURRENT_TIME, 0)  # noqa: E731
    wait_until(lambda: pings() >= 3, 10, message="a quiet gateway is pinged")
    assert events.all(GatewaySilence) == [], "it answered: only quiet, not silent"

    sim.pause()
    (silence,) = wait_until(lambda: events.all(GatewaySilence), 10, message="a hung gateway is silent")
    assert silence.silent and silence.seconds == pytest.approx(0.45, abs=0.1)  # the wait and the ping
    sim.resume()
    wait_until(lambda: events.all(GatewaySilence)[-1] == GatewaySilence(False), 10, message="it sends again")
