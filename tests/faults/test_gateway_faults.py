"""The gateway under faults: dropped, restarted, IB connectivity lost and back (1100 then 1101 or 1102, or
never), data farms flapping (2103/2104), hung longer than every request timeout, and a line limit that
changes under the service (101 refusals). Each ends with every invariant (`Rig.finish`)."""

from collections.abc import Callable

import pytest

from possync.actors.names import CONNECTION
from possync.simulator import Simulator
from possync.supervisors import EventKind
from tests.conftest import each_ib_client as _each
from tests.faults.rig import Rig, during
from tests.helpers import IB_CLIENTS, wait_until

pytestmark = pytest.mark.timeout(90)

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""The gateway's faults run once per IB client library (ib_insync, ib_async)."""

LOST, DATA_LOST, DATA_KEPT = 1100, 1101, 1102
FARM_BROKEN, FARM_OK = 2103, 2104
CANCEL_MKT_DATA = 2


def reconnected(rig: Rig, mark: int) -> None:
    rig.wait_event(EventKind.EXITED, CONNECTION, after=mark)
    rig.wait_event(EventKind.STARTED, CONNECTION, after=mark)


@pytest.mark.parametrize("fault", ["drop_all", "restart"])
def test_a_dropped_or_restarted_gateway_is_reconnected(
    fault: str, sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()

    getattr(sim, fault)()

    reconnected(rig, mark)
    rig.finish()


@pytest.mark.parametrize("restored", [DATA_LOST, DATA_KEPT])
def test_connectivity_lost_then_restored_keeps_the_session_and_every_line(
    restored: int, sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()

    sim.send_error(LOST)
    during(0.5, lambda: rig.service.running)
    sim.send_error(restored)

    rig.wait_settled()
    assert rig.events[mark:] == []  # no reconnect was needed, nothing restarted
    rig.finish()


def test_connectivity_lost_for_longer_than_the_grace_period_reconnects(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()

    sim.send_error(LOST)

    rig.wait_event(EventKind.EXITED, CONNECTION, after=mark)
    rig.finish()


def test_data_farm_flaps_leave_every_line_held_once(sim: Simulator, rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()

    for _ in range(5):
        sim.send_error(FARM_BROKEN)
        sim.send_error(FARM_OK)
    sim.send_error(FARM_BROKEN)
    during(0.5, lambda: rig.service.running)
    sim.send_error(FARM_OK)

    rig.wait_settled()
    assert rig.events[mark:] == []  # nothing restarted
    rig.finish()


def test_a_gateway_hung_longer_than_the_request_timeouts_recovers(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)

    sim.pause()
    during(4.0, lambda: rig.service.running)  # > poller.request_timeout_s and the queue's lease
    sim.resume()

    rig.finish()


def test_a_gateway_hung_for_hung_reconnect_s_is_dropped_and_connected_again(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim, ib={"hung_reconnect_s": 2.0}, streams={"silent_after_s": 1.0})
    mark = rig.mark()

    sim.pause()  # the socket stays open; nothing comes back, not even the answer to a ping
    rig.wait_event(EventKind.EXITED, CONNECTION, after=mark)
    assert any("hung" in reason for reason in rig.service.health()), rig.service.health()
    sim.resume()

    rig.wait_event(EventKind.STARTED, CONNECTION, after=mark)
    rig.finish()


def test_a_lower_line_limit_refuses_lines_101_and_the_budget_follows_it(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()

    sim.set_max_lines(3)
    sim.drop_all()  # resubscribing after the reconnect meets the new limit: two lines are refused
    reconnected(rig, mark)
    lines = wait_until(
        lambda: (found := rig.lines()) and len(found.streaming) == 3 and found, 30, message="3 streaming"
    )
    assert sim.stats().refused_101 >= 2
    assert rig.problems(set(lines.streaming)) == []

    sim.set_max_lines(100)  # the budget grows back one line per slots.regrow_s

    rig.finish()


def test_a_gateway_hung_longer_than_the_silence_limit_gets_no_resubscription_storm(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    """Found by chaos: every stream resubscribed into a hung gateway, which read the paced requests in one
    burst when it woke up (error 100, pacing violations). Silence of the whole gateway is not a stream's."""
    rig = rig_factory(sim, active=30, streams={"silent_after_s": 2.0})
    cancels = sim.stats().requests.get(CANCEL_MKT_DATA, 0)

    sim.pause()
    during(5.0, lambda: rig.service.running)  # > 2 x streams.silent_after_s
    sim.resume()

    rig.wait_settled()
    assert sim.stats().requests.get(CANCEL_MKT_DATA, 0) == cancels  # nothing was resubscribed
    rig.finish()


def test_a_gateway_that_hangs_while_every_line_resubscribes_gets_no_burst_above_its_rate(
    simulator_factory: Callable[..., Simulator], rig_factory: Callable[..., Rig]
) -> None:
    """Found by chaos: after 1101 the paced resubscriptions kept going into a gateway that had stopped
    reading, which read them in one burst when it woke up (error 100, pacing violations)."""
    sim = simulator_factory(positions=60)
    rig = rig_factory(sim, active=60, slots={"budget": 100})

    sim.send_error(DATA_LOST)  # 120 requests to send, paced over ~3 s
    sim.pause()
    during(3.0, lambda: rig.service.running)
    sim.resume()

    rig.finish()  # includes: no message above the gateway's rate
