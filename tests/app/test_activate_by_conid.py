"""Activation by conid alone (#14 item 1): `run.py activate CONID --strategy-id 7` before the service has
ever run (an empty lake); the service has the gateway describe the conid, completes the registry row and
streams it. A conid the gateway does not know (200) is parked once in /status and /health, never asked again
in a loop, and picked up again when the user fixes the registry."""

from collections.abc import Callable
from pathlib import Path

import pytest

from possync import Service
from possync.actors.registry._store import StrategyLog, latest_per_conid
from possync.simulator import Simulator
from tests.app.cli import run_cli
from tests.app.support import as_settings, free_port, get_json, scenario_settings, write_toml
from tests.helpers import holds_throughout, wait_until

REQ_CONTRACT_DATA = 9
UNKNOWN = 999_999_999


def _latest(root: Path, conid: int):
    log = StrategyLog(root)
    log.version()
    return latest_per_conid(log.read()[0]).get(conid)


def _streaming(service: Service, conid: int) -> bool:
    return any(s.conid == conid and s.state == "streaming" for s in service.status().streams)


@pytest.mark.timeout(120)
def test_a_conid_activated_before_the_service_ever_ran_is_described_and_streams(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    target = sim.positions()[3]
    sections = scenario_settings(sim.port, tmp_path, free_port())
    config = write_toml(tmp_path / "possync.toml", sections)
    root = tmp_path / "lake"

    cli = run_cli(["activate", str(target.conid), "--strategy-id", "7", "--config", str(config)], tmp_path)
    assert cli.returncode == 0, cli
    assert _latest(root, target.conid).contract.sec_type == ""

    with Service(as_settings(sections)) as service:
        wait_until(lambda: _streaming(service, target.conid), 30, message="the described conid streams")
        wait_until(lambda: _latest(root, target.conid).contract.sec_type, 10, message="the row completed")
        completed = _latest(root, target.conid)
        assert completed.contract.symbol == target.symbol and completed.contract.sec_type
        assert (completed.strategy_id, completed.active) == ("7", True)
        assert service.health() == []


@pytest.mark.timeout(120)
def test_a_conid_the_gateway_does_not_know_is_parked_once_and_picked_up_when_fixed(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    http_port = free_port()
    sections = scenario_settings(sim.port, tmp_path, http_port)
    config = write_toml(tmp_path / "possync.toml", sections)
    known = sim.positions()[2]
    assert (
        run_cli(
            ["activate", str(UNKNOWN), "--strategy-id", "7", "--config", str(config)], tmp_path
        ).returncode
        == 0
    )

    with Service(as_settings(sections)) as service:

        def parked() -> list[str]:
            return [r for r in service.health() if f"conid {UNKNOWN}" in r and "parked" in r]

        wait_until(parked, 30, message="parked with the gateway's words")
        assert "200" in parked()[0] and "No security definition" in parked()[0]
        code, health = get_json(http_port, "/health")
        assert code == 503 and any(f"conid {UNKNOWN}" in r for r in health["reasons"])
        asked = sim.stats().requests.get(REQ_CONTRACT_DATA, 0)
        holds_throughout(lambda: sim.stats().requests.get(REQ_CONTRACT_DATA, 0) == asked, 3.0)  # no loop

        fix = ["deactivate", str(UNKNOWN), "--config", str(config)]  # the user fixes the registry ...
        assert run_cli(fix, tmp_path).returncode == 0
        activate = ["activate", str(known.conid), "--strategy-id", "7", "--config", str(config)]
        assert run_cli(activate, tmp_path).returncode == 0  # ... with the right conid
        wait_until(lambda: _streaming(service, known.conid), 30, message="the fixed activation streams")
        wait_until(lambda: not parked(), 10, message="no longer parked")
