"""Markets close (#14 item 4): with the simulated gateway following its trading hours and its clock just
before a Monday's open, an active stock's stream expects silence (`market_closed`: no resubscription, no
degraded health), and resumes its silence checks and streams when the market opens."""

from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from possync import Service
from possync.actors.service import metrics_registry, render
from possync.simulator import Simulator
from tests.app.support import as_settings, register_active, scenario_settings
from tests.helpers import holds_throughout, wait_until

REQ_MKT_DATA = 1
EASTERN = ZoneInfo("US/Eastern")
BEFORE_OPEN_S = 12.0


def _before_monday_open() -> datetime:
    """The next Monday's 04:00 ET (US stocks open) less BEFORE_OPEN_S."""
    today = datetime.now(EASTERN).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return datetime.combine(monday, time(4), EASTERN) - timedelta(seconds=BEFORE_OPEN_S)


def _states(service: Service, conids: set[int]) -> set[str]:
    return {s.state for s in service.status().streams if s.conid in conids}


@pytest.mark.timeout(90)
def test_a_closed_market_is_silent_without_resubscription_and_streams_when_it_opens(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=20, hours=True)
    sim.set_clock(at=_before_monday_open())  # Monday 03:59:48 ET: closed, opens in 12 s
    stocks = [p for p in sim.positions() if p.sec_type == "STK"][:2]
    conids = {p.conid for p in stocks}
    sections = scenario_settings(sim.port, tmp_path)
    sections["streams"] = {"silent_after_s": 1.0}  # silence checked every 0.5 s
    register_active(tmp_path / "lake", stocks)
    with Service(as_settings(sections)) as service:
        wait_until(lambda: _states(service, conids) == {"market_closed"}, 8, 0.1, message="market_closed")
        requests = sim.stats().requests.get(REQ_MKT_DATA, 0) - sim.stats().snapshots

        def quiet() -> bool:
            asked = sim.stats().requests.get(REQ_MKT_DATA, 0) - sim.stats().snapshots
            return (
                asked == requests and service.health() == [] and _states(service, conids) == {"market_closed"}
            )

        holds_throughout(quiet, 2.0, "no resubscription, not degraded, while the market is closed")
        metrics = render(metrics_registry(service.status)).decode()
        assert "possync_streams_market_closed 2.0" in metrics

        wait_until(lambda: _states(service, conids) == {"streaming"}, BEFORE_OPEN_S + 10, 0.2, "open")
        wait_until(
            lambda: all((s.last_tick_age_s or 99) < 2 for s in service.status().streams if s.conid in conids),
            10,
            message="ticks flow after the open",
        )
        assert service.health() == []
