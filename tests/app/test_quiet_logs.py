"""Quiet logs under faults (#14 item 6): with no gateway listening, the service's log says so once in
sentences, not at every retry, and never as a raw SupervisionEvent repr."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from possync import Service
from possync.supervisors import EventKind
from tests.app.support import as_settings, free_port, scenario_settings
from tests.helpers import wait_until


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    logger.enable("possync")
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO", format="{message}")
    yield lines
    logger.remove(sink)


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
