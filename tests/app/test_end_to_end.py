"""The acceptance scenario for real: `python run.py --config ...` in a separate process."""

import csv
import io
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.app.cli import run_cli, start_service
from tests.app.support import (
    ACTIVE,
    POSITIONS,
    free_port,
    get_json,
    lake_rows,
    register_active,
    rows_for_every_conid,
    scenario_settings,
    write_toml,
)
from tests.helpers import wait_until

WAIT_S = 30.0


def _streaming(port: int) -> set[int] | None:
    """The conids streaming per /status, once its line count agrees with its streams (else None)."""
    try:
        code, document = get_json(port, "/status")
    except OSError:
        return None  # not serving yet
    streaming = {s["conid"] for s in document["streams"] if s["state"] == "streaming"}
    agreed = code == 200 and document["slots"]["in_use"] == len(document["streams"]) == len(streaming)
    return streaming if agreed and document["connection"]["connected"] else None


def _lines(sim: Simulator) -> int:
    return sim.stats().subscriptions


@pytest.mark.timeout(180)
def test_the_acceptance_scenario_as_a_separate_process(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=POSITIONS)
    positions = sim.positions()
    active = {p.conid for p in positions[:ACTIVE]}
    http_port = free_port()
    sections: dict[str, Any] = scenario_settings(sim.port, tmp_path, http_port)
    config = write_toml(tmp_path / "possync.toml", sections)
    root = Path(sections["lake"]["root"])
    register_active(root, positions[:ACTIVE])

    service, log = start_service(["--config", str(config)], tmp_path)
    try:
        wait_until(lambda: _lines(sim) == ACTIVE, WAIT_S, message="the gateway holds 20 lines")
        wait_until(lambda: _streaming(http_port) == active, WAIT_S, message="/status agrees")
        polled = {p.conid for p in positions[ACTIVE:]}
        message = "stream rows for the 20, poll rows for the 180"
        wait_until(lambda: rows_for_every_conid(root, active, polled), WAIT_S, message=message)

        extra, dropped = positions[ACTIVE].conid, positions[0].conid
        activated = run_cli(
            ["activate", str(extra), "--strategy-id", "e2e", "--config", str(config)], tmp_path
        )
        assert activated.returncode == 0, activated.stderr
        wait_until(lambda: _streaming(http_port) == active | {extra}, WAIT_S, message="the 21st streams")
        assert _lines(sim) == ACTIVE + 1

        deactivated = run_cli(["--config", str(config), "deactivate", str(dropped)], tmp_path)
        assert deactivated.returncode == 0, deactivated.stderr
        wait_until(lambda: _lines(sim) == ACTIVE, WAIT_S, message="its line is released")
        wait_until(lambda: _streaming(http_port) == active - {dropped} | {extra}, WAIT_S)

        status = run_cli(["status", "--config", str(config)], tmp_path)
        assert status.returncode == 0 and f"lines {ACTIVE}/90" in status.stdout, status
        while_running = run_cli(["positions", "--format", "json", "--config", str(config)], tmp_path)
        assert while_running.returncode == 0 and len(json.loads(while_running.stdout)) == POSITIONS

        _, last = get_json(http_port, "/status")
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=10) == 0, log.read_text()
    finally:
        if service.poll() is None:
            service.kill()
            service.wait(10)

    written_by_others = ACTIVE + 2  # the registrations above and the two CLI changes
    accepted = last["lake"]["rows_written"] + last["lake"]["pending_rows"]
    assert lake_rows(root) - written_by_others >= accepted > 0, "every row the service held is in the lake"
    output = log.read_text()
    assert "Traceback" not in output and "ERROR" not in output, output
    assert "stopped cleanly" in output
    listed = run_cli(["positions", "--format", "csv", "--config", str(config)], tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert len(rows) == POSITIONS
    assert {int(row["conid"]) for row in rows} == {p.conid for p in positions}
    table = run_cli(["positions", "--config", str(config)], tmp_path)
    assert table.stdout.splitlines()[-1] == f"{POSITIONS} positions"
