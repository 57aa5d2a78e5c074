"""Quiet logs under faults (#14 item 6): with no gateway listening, the service's log says so once in
sentences, not at every retry, and never as a raw SupervisionEvent repr; a burst of refused lines is one
line with a count."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from possync import Service
from possync.simulator import Simulator
from possync.supervisors import EventKind
from tests.app.support import as_settings, free_port, register_active, scenario_settings
from tests.conftest import one_ib_client
from tests.helpers import captured_log, wait_until

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Not about the IB client: these tests run once, with the default client (see tests/conftest.py)."""


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    with captured_log("INFO") as lines:
        yield lines


@pytest.mark.timeout(60)
def test_no_gateway_is_logged_once_not_at_every_retry(tmp_path: Path, log_lines: list[str]) -> None:
    sections = scenario_settings(free_port(), tmp_path)  # nothing listens there
    sections["queue"]["backoff_min_s"] = 0.2  # the queue's resync retries this often
    with Service(as_settings(sections)) as service:

        def failed_starts() -> int:
            return sum(e.kind is EventKind.START_FAILED for e in service.tree.events.all())

        wait_until(lambda: failed_starts() >= 6, 30.0, message="connection retries")
    assert not [line for line in log_lines if "SupervisionEvent(" in line]
    failed = [line for line in log_lines if "connection (incarnation" in line and "failed to start" in line]
    assert len(failed) == 1, failed
    assert len([line for line in log_lines if "resync postponed" in line]) == 1


@pytest.mark.timeout(60)
def test_a_burst_of_refused_lines_is_one_line_with_a_count(
    simulator_factory: Callable[..., Simulator], tmp_path: Path, log_lines: list[str]
) -> None:
    sim = simulator_factory(positions=30, max_lines=5)
    register_active(tmp_path / "lake", sim.positions()[:20])  # 15 more than the gateway allows
    with Service(as_settings(scenario_settings(sim.port, tmp_path))) as service:
        wait_until(lambda: service.status().slots.refused_101 >= 10, 30, message="101 refusals")
        refusals = service.status().slots.refused_101
        wait_until(
            lambda: any("times (" in line and "(101)" in line for line in log_lines), 10, message="the count"
        )
    refused = [line for line in log_lines if "gateway refused a line (101)" in line]
    assert len(refused) <= 4 < refusals, refused
