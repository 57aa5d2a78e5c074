"""A poller sized to the portfolio (#14 item 5): the batch grows with the queue so every position is
refreshed within queue.refresh_s, and /health says so, with the numbers, when even the fastest rate cannot."""

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from possync import Service
from possync.actors.polling._sizing import batch_limit, shortfall
from possync.config import Settings
from possync.simulator import Simulator
from tests.app.support import as_settings, scenario_settings, sources_by_conid
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(120)


def test_the_default_refreshes_10000_positions_within_refresh_s() -> None:
    defaults = Settings()
    poller, refresh_s = defaults.poller, defaults.queue.refresh_s
    limit = batch_limit(10_000, poller.batch_size, poller.max_batch, poller.interval_s, refresh_s)
    cycles = refresh_s / poller.interval_s
    assert limit * cycles >= 10_000 and limit <= poller.max_batch
    assert shortfall(10_000, poller.max_batch, poller.interval_s, refresh_s) == ""


def test_a_small_queue_keeps_the_configured_batch_and_a_huge_one_is_capped() -> None:
    assert batch_limit(10, 50, 5000, 5.0, 60.0) == 50
    assert batch_limit(10_000_000, 50, 5000, 5.0, 60.0) == 5000
    assert batch_limit(1200, 50, 5000, 5.0, 60.0) == math.ceil(1200 * 1.25 / 12)


def test_a_shortfall_names_the_numbers_and_the_keys() -> None:
    why = shortfall(10_000, 100, 5.0, 60.0)
    assert "10,000 positions every 60s" in why and "167 a second" in why and "gives 20" in why
    assert "poller.max_batch" in why and "queue.refresh_s" in why


@pytest.mark.timeout(120)
def test_every_position_of_a_large_portfolio_is_refreshed_within_refresh_s(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=1000)
    sections = scenario_settings(sim.port, tmp_path)
    sections["poller"].update(interval_s=0.5, batch_size=10)  # 20 a second: 50 s for 1,000 positions
    sections["queue"].update(refresh_s=8.0)
    held = {p.conid for p in sim.positions() if p.position}
    with Service(as_settings(sections)) as service:
        wait_until(lambda: service.status().connection.connected, 30)
        wait_until(
            lambda: held <= sources_by_conid(tmp_path / "lake").keys(), 8.0 + 3.0, 0.2, "all refreshed"
        )
        assert service.health() == []


@pytest.mark.timeout(60)
def test_health_says_when_even_the_fastest_rate_cannot_keep_up(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=100)
    sections = scenario_settings(sim.port, tmp_path)
    sections["poller"].update(interval_s=1.0, batch_size=5, max_batch=5)  # 5 a second at most
    sections["queue"].update(refresh_s=10.0)  # 100 positions need 10 a second
    with Service(as_settings(sections)) as service:
        wait_until(lambda: any("cannot refresh" in r for r in service.health()), 30, message="a shortfall")
        why = next(r for r in service.health() if "cannot refresh" in r)
        assert "100 positions every 10s" in why and "10 a second" in why and "gives 5" in why
