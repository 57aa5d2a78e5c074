"""`python run.py` on bad input and without a service: one clear line on stderr, exit 2 or 1."""

import socket
from pathlib import Path

import pytest

from possync.actors.lake import LakeLocation
from possync.actors.lake._lease import MaintenanceLease
from possync.actors.registry._store import StrategyLog, latest_per_conid
from tests.app.cli import run_cli
from tests.app.support import free_port, scenario_settings, write_toml
from tests.conftest import one_ib_client

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Not about the IB client: these tests run once, with the default client (see tests/conftest.py)."""


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got: {stderr!r}"
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A valid config: no gateway, no service, an empty lake under tmp_path."""
    return write_toml(tmp_path / "possync.toml", scenario_settings(free_port(), tmp_path, free_port()))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("toml", "args", "expected"),
    [
        ('[ib]\nport = "x"\n', [], "config error: ib.port = 'x'"),
        ("[lake]\nflush_rows = 0\n", ["status"], "config error: lake.flush_rows = 0"),
        ("[bogus]\n", ["positions"], "config error: unknown section 'bogus'"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(
    tmp_path: Path, toml: str, args: list[str], expected: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(toml)

    result = run_cli(["--config", str(bad), *args], tmp_path)

    assert result.returncode == 2
    assert _one_line(result.stderr).startswith(f"possync: {expected}")


@pytest.mark.timeout(60)
def test_a_missing_config_file_is_exit_2(tmp_path: Path) -> None:
    result = run_cli(["status", "--config", str(tmp_path / "nope.toml")], tmp_path)

    assert result.returncode == 2
    assert "cannot read" in _one_line(result.stderr) and "nope.toml" in result.stderr


@pytest.mark.timeout(60)
def test_status_without_a_service_is_one_clear_line_and_exit_1(config: Path, tmp_path: Path) -> None:
    result = run_cli(["status", "--config", str(config)], tmp_path)

    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert line.startswith("possync: no possync service answers at http://127.0.0.1:")
    assert "is `python run.py` running with this config?" in line


@pytest.mark.timeout(60)
def test_a_taken_http_port_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_toml(tmp_path / "possync.toml", scenario_settings(free_port(), tmp_path, port))

        result = run_cli(["--config", str(config), "--duration", "5"], tmp_path)

    assert result.returncode == 1
    assert f"cannot serve the status endpoint on 127.0.0.1:{port}" in _one_line(result.stderr)


@pytest.mark.timeout(60)
def test_a_conid_the_lake_never_saw_is_activated_by_its_conid_alone(config: Path, tmp_path: Path) -> None:
    result = run_cli(["activate", "123", "--strategy-id", "s", "--config", str(config)], tmp_path)

    assert result.returncode == 0, result
    assert "conid 123 (described by the gateway once the service runs) active" in result.stdout
    log = StrategyLog(tmp_path / "lake")
    log.version()
    assert [(c.contract.conid, c.contract.sec_type, c.active) for c in log.read()[0]] == [(123, "", True)]


@pytest.mark.timeout(60)
def test_activate_with_the_contract_then_deactivate_write_the_registry(config: Path, tmp_path: Path) -> None:
    activate = ["activate", "123", "--strategy-id", "s", "--priority", "2"]
    contract = ["--symbol", "ABC", "--sec-type", "STK"]

    activated = run_cli([*activate, *contract, "--config", str(config)], tmp_path)
    deactivated = run_cli(["deactivate", "123", "--config", str(config)], tmp_path)
    again = run_cli(["deactivate", "123", "--config", str(config)], tmp_path)

    assert activated.returncode == 0 and "active for strategy 's', priority 2" in activated.stdout
    assert deactivated.returncode == 0 and "inactive" in deactivated.stdout
    assert again.returncode == 1 and "conid 123 is not active" in _one_line(again.stderr)
    log = StrategyLog(tmp_path / "lake")
    log.version()
    changes, garbage = log.read()
    changes.sort(key=lambda change: change.changed_ts)
    assert garbage == [] and [(c.contract.symbol, c.priority, c.active) for c in changes] == [
        ("ABC", 2, True),
        ("ABC", 2, False),
    ]
    assert latest_per_conid(changes)[123].changed_by == "possync-cli"


@pytest.mark.timeout(60)
def test_activate_for_an_account_then_maintain_the_lake_under_its_lease(config: Path, tmp_path: Path) -> None:
    activate = ["activate", "7", "--strategy-id", "s", "--symbol", "X", "--sec-type", "STK"]

    activated = run_cli([*activate, "--account", "DU9", "--config", str(config)], tmp_path)
    maintained = run_cli(["maintain", "--config", str(config)], tmp_path)
    MaintenanceLease(LakeLocation.of(tmp_path / "lake"), "a-service", 600).claim()
    refused = run_cli(["maintain", "--config", str(config)], tmp_path)

    assert activated.returncode == 0
    log = StrategyLog(tmp_path / "lake")
    log.version()
    assert [c.account for c in log.read()[0]] == ["DU9"]
    assert maintained.returncode == 0 and "maintained active_strategies" in maintained.stdout
    assert refused.returncode == 1 and "held by a-service" in _one_line(refused.stderr)


@pytest.mark.timeout(60)
def test_positions_of_an_empty_lake_is_exit_1(config: Path, tmp_path: Path) -> None:
    result = run_cli(["positions", "--config", str(config)], tmp_path)

    assert result.returncode == 1
    assert "no positions in the lake at" in _one_line(result.stderr)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "args",
    [
        ["--duration", "0"],
        ["--log-level", "LOUD"],
        ["activate", "123"],
        ["activate", "-5", "--strategy-id", "s"],
        ["positions", "--format", "xml"],
        ["activate", "x1", "--strategy-id", "s"],
        ["activate", "0", "--strategy-id", "s"],
        ["activate", "123", "--strategy-id", "s", "--priority", "0"],
    ],
)
def test_usage_mistakes_are_exit_2(config: Path, tmp_path: Path, args: list[str]) -> None:
    result = run_cli([*args, "--config", str(config)], tmp_path)

    assert result.returncode == 2, result
    assert "error" in result.stderr
