"""`run.py doctor`: each check passes against a good setup and fails, with its fix, when provoked against
the simulated gateway or the filesystem. Run in-process (fast) except the all-green case, which also runs
`python run.py doctor` as a process."""

import io
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from possync import Service
from possync._doctor import doctor, market_data
from possync.actors.gateway import GatewayProbe, MarketDataProbe
from possync.actors.registry import append_change
from possync.messages.domain import Contract, utc_now
from possync.messages.lake import StrategyChange
from possync.simulator import Simulator
from tests.app.cli import run_cli
from tests.app.support import as_settings, free_port, register_active, scenario_settings, write_toml
from tests.helpers import ib_module

GHOST = Contract(999_999_002, "GHOST", "STK")
"""A contract the simulated gateway does not know (error 200)."""


class Setup:
    """A config against a simulator (or a port), written as TOML under a temporary directory."""

    def __init__(self, tmp: Path, gateway_port: int) -> None:
        self.tmp = tmp
        self.sections = scenario_settings(gateway_port, tmp, http_port=free_port())
        self.root = Path(self.sections["lake"]["root"])

    def set(self, section: str, **values: Any) -> "Setup":
        self.sections[section].update(values)
        return self

    def run(self, usual_ports: dict[int, str] | None = None) -> tuple[int, str]:
        """Run doctor on this config: its exit code and its checklist."""
        out = io.StringIO()
        path = write_toml(self.tmp / "possync.toml", self.sections)
        code = doctor(str(path), out, usual_ports={} if usual_ports is None else usual_ports)
        return code, out.getvalue()


@pytest.fixture
def setup(simulator_factory: Callable[..., Simulator], tmp_path: Path) -> Iterator[tuple[Setup, Simulator]]:
    """A good setup: a simulator with 10 positions, three of them active in the registry."""
    sim = simulator_factory(positions=10)
    good = Setup(tmp_path, sim.port)
    register_active(good.root, sim.positions()[:3])
    yield good, sim


def line(checklist: str, name: str) -> str:
    """The checklist line of check `name` (and its fix line, if any)."""
    lines = checklist.splitlines()
    for index, text in enumerate(lines):
        if text[7:].startswith(f"{name}:"):
            fix = lines[index + 1] if index + 1 < len(lines) and "fix:" in lines[index + 1] else ""
            return f"{text}\n{fix}".strip()
    raise AssertionError(f"no check {name!r} in:\n{checklist}")


@pytest.mark.timeout(60)
def test_a_good_setup_is_all_green_in_process_and_as_a_command(setup: tuple[Setup, Simulator]) -> None:
    good, _ = setup
    code, checklist = good.run()
    assert code == 0, checklist
    assert "[FAIL]" not in checklist and "[warn]" not in checklist and "[skip]" not in checklist
    assert checklist.count("[ ok ] market data ") == 3
    assert checklist.count(", data type live") == 3
    for name in ("config", "gateway reachable", "API handshake", "accounts", "lines", "lake writable"):
        assert line(checklist, name).startswith("[ ok ]")
    result = run_cli(["doctor", "--config", str(good.tmp / "possync.toml")], good.tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("all good")


@pytest.mark.timeout(30)
def test_an_invalid_config_is_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[ib]\nport = 'x'\n")
    out = io.StringIO()
    assert doctor(str(tmp_path / "bad.toml"), out) == 1
    assert "[FAIL] config: ib.port = 'x'" in out.getvalue()


@pytest.mark.timeout(30)
def test_nothing_listening_is_reported_with_what_to_start(tmp_path: Path) -> None:
    code, checklist = Setup(tmp_path, free_port()).run(usual_ports={free_port(): "IB Gateway, paper"})
    assert code == 1
    assert "[FAIL] gateway reachable: nothing listens on 127.0.0.1:" in checklist
    assert "fix: start IB Gateway or TWS" in checklist
    assert "[skip] gateway session" in checklist


@pytest.mark.timeout(30)
def test_a_gateway_on_another_usual_port_is_named(setup: tuple[Setup, Simulator], tmp_path: Path) -> None:
    _, sim = setup
    wrong = Setup(tmp_path, free_port())
    code, checklist = wrong.run(usual_ports={sim.port: "IB Gateway, paper", free_port(): "TWS, live"})
    assert code == 1
    found = line(checklist, "gateway reachable")
    assert f"but {sim.port} (IB Gateway, paper) does" in found
    assert f"set ib.port (POSSYNC_IB_PORT) to the port of the gateway you mean: {sim.port}" in found


@pytest.mark.timeout(30)
def test_a_port_that_does_not_speak_the_api_fails_the_handshake(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        setup = Setup(tmp_path, silent.getsockname()[1]).set("ib", connect_timeout_s=1.0)
        code, checklist = setup.run()
    assert code == 1
    found = line(checklist, "API handshake")
    assert found.startswith("[FAIL] API handshake: cannot connect to IB Gateway/TWS")
    assert "enable the API" in found


@pytest.mark.timeout(30)
def test_a_client_id_in_use_is_named(setup: tuple[Setup, Simulator]) -> None:
    good, sim = setup
    other = ib_module().IB()
    other.connect("127.0.0.1", sim.port, clientId=good.sections["ib"]["client_id"], readonly=True, timeout=10)
    try:
        code, checklist = good.run()
    finally:
        other.disconnect()
    assert code == 1
    found = line(checklist, "API handshake")
    assert f"client id {good.sections['ib']['client_id']} is in use by another API client (326" in found
    assert "set ib.client_id" in found
    assert line(checklist, "accounts").startswith("[ ok ]")  # the other checks ran on the next free id


@pytest.mark.timeout(30)
def test_an_account_the_login_does_not_manage(setup: tuple[Setup, Simulator]) -> None:
    good, _ = setup
    code, checklist = good.set("ib", account="DU999999").run()
    assert code == 1
    found = line(checklist, "accounts")
    assert "ib.account = 'DU999999' is not managed by this login (managed: DU111111)" in found
    assert "set ib.account to one of the managed accounts" in found


@pytest.mark.timeout(30)
def test_an_unknown_contract_is_refused_with_200_and_its_fix(setup: tuple[Setup, Simulator]) -> None:
    good, _ = setup
    append_change(good.root, StrategyChange(GHOST, "ghosts", 1, True, utc_now(), "test"))
    code, checklist = good.run()
    assert code == 1
    found = line(checklist, f"market data GHOST ({GHOST.conid})")
    assert found.startswith("[FAIL] market data GHOST") and "refused 200: No security definition" in found
    assert "run.py deactivate CONID" in found
    assert checklist.count("[ ok ] market data ") == 3  # the others still stream


@pytest.mark.timeout(30)
def test_lines_refused_with_101_fail_the_lines_check(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10, max_lines=1)
    few = Setup(tmp_path, sim.port)
    register_active(few.root, sim.positions()[:3])
    code, checklist = few.run()
    assert code == 1
    found = line(checklist, "lines")
    assert "refused 2 line(s) with 101 while the probe held 1" in found and "lower slots.budget" in found


@pytest.mark.timeout(30)
def test_a_lake_under_a_file_is_not_writable(setup: tuple[Setup, Simulator], tmp_path: Path) -> None:
    good, _ = setup
    (tmp_path / "a-file").write_text("not a directory\n")
    code, checklist = good.set("lake", root=str(tmp_path / "a-file" / "lake")).run()
    assert code == 1
    found = line(checklist, "lake writable")
    assert f"{tmp_path / 'a-file'} is a file, not a directory" in found and "fix: make" in found


@pytest.mark.timeout(30)
def test_an_http_port_held_by_a_running_service(setup: tuple[Setup, Simulator]) -> None:
    good, _ = setup
    port = good.sections["http"]["port"]
    running = dict(good.sections, lake={**good.sections["lake"], "root": str(good.tmp / "other-lake")})
    with Service(as_settings(running), http_port=port):
        code, checklist = good.set("ib", client_id=good.sections["ib"]["client_id"] + 100).run()
    assert code == 1
    found = line(checklist, "http port")
    assert f"127.0.0.1:{port} is taken: a possync service already runs there" in found
    assert "set http.port" in found


@pytest.mark.timeout(10)
def test_refusals_the_simulator_cannot_send_yet_are_judged_by_their_code() -> None:
    probe = GatewayProbe(
        market_data=(
            MarketDataProbe(1, "ES", errors=((354, "Requested market data is not subscribed."),)),
            MarketDataProbe(2, "SPY", errors=((10089, "Requires additional subscription"),)),
            MarketDataProbe(3, "NQ", errors=((10197, "No market data during competing live session"),)),
            MarketDataProbe(
                4, "MSFT", ticks=3, data_type="delayed", errors=((10167, "Displaying delayed data"),)
            ),
            MarketDataProbe(5, "XYZ", errors=((12345, "Something new"),)),
            MarketDataProbe(6, "BUND"),
        )
    )
    checks = {check.name: check for check in market_data(probe, "active contracts of the registry")}
    es, spy, nq = checks["market data ES (1)"], checks["market data SPY (2)"], checks["market data NQ (3)"]
    assert (es.status, es.detail) == ("fail", "refused 354: Requested market data is not subscribed.")
    assert "subscribe in Client Portal" in es.fix and "Market Data Subscriptions" in spy.fix
    assert nq.status == "fail" and "another session" in nq.fix
    msft = checks["market data MSFT (4)"]
    assert (msft.status, msft.detail) == ("warn", "3 ticks, data type delayed")
    assert checks["market data XYZ (5)"].status == "fail" and "12345" in checks["market data XYZ (5)"].detail
    assert checks["market data BUND (6)"].status == "warn"  # quiet: a closed market is not a failure
