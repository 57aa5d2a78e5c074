"""`python -m simulator`: documented flags, a working gateway, a clean exit on SIGINT/SIGTERM."""

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from possync.simulator import Simulator
from possync.simulator.__main__ import config_from, parse_args
from tests.conftest import next_client_id
from tests.helpers import ib_module
from tests.simulator.support import admin

ROOT = Path(__file__).resolve().parents[2]
FLAGS = (
    "--port",
    "--admin-port",
    "--positions",
    "--max-lines",
    "--tick-hz",
    "--seed",
    "--accounts",
    "--snapshot-hold",
    "--max-msg-rate",
    "--no-live-data-for",
    "--no-live-fraction",
    "--no-delayed",
    "--hours",
    "--clock-offset-s",
    "--log-level",
)


def _run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "possync.simulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class _Cli:
    """A running `python -m simulator` whose log lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "possync.simulator", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self.collector = threading.Thread(target=self._collect, daemon=True)
        self.collector.start()

    def _collect(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The first log line matching `pattern` (fails after `timeout` seconds)."""
        while True:
            line = self.lines.get(timeout=timeout)
            self.log.append(line)
            if match := re.search(pattern, line):
                return match


@pytest.fixture
def cli() -> Iterator[Callable[..., _Cli]]:
    started: list[_Cli] = []

    def start(*args: str) -> _Cli:
        started.append(_Cli(*args))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait(10)
        running.collector.join(10)
        assert running.process.stderr is not None
        running.process.stderr.close()


def test_help_documents_every_flag() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for flag in FLAGS:
        assert flag in result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_it_serves_the_ib_client_and_admin_then_exits_cleanly(
    cli: Callable[..., _Cli], stop_signal: int
) -> None:
    running = cli("--port", "0", "--admin-port", "0", "--positions", "5", "--accounts", "DU1,DU2")
    match = running.wait_for(r"listening on 127\.0\.0\.1:(\d+) \(admin port (\d+)\)")
    port, admin_port = int(match[1]), int(match[2])

    ib = ib_module().IB()
    ib.connect("127.0.0.1", port, clientId=next_client_id(), readonly=True, timeout=10)
    try:
        assert ib.managedAccounts() == ["DU1", "DU2"]
        assert len(ib.positions()) == 10
        status, stats = admin(admin_port, "GET", "/stats")
        assert status == 200 and stats["clients"] == 1
    finally:
        ib.disconnect()

    running.process.send_signal(stop_signal)
    assert running.process.wait(timeout=20) == 0
    running.wait_for(rf"{signal.Signals(stop_signal).name} received: stopping")
    running.wait_for(r"stopped")


@pytest.mark.parametrize(
    ("flags", "message"),
    [(("--max-lines", "-1"), "max_lines=-1"), (("--no-live-fraction", "2"), "no_live_fraction=2.0")],
)
def test_a_bad_flag_value_exits_2_naming_it(flags: tuple[str, ...], message: str) -> None:
    result = _run(*flags, "--port", "0", "--admin-port", "0")
    assert result.returncode == 2
    assert message in result.stderr


def test_the_market_data_flags_make_the_config() -> None:
    args = parse_args(
        ["--no-live-data-for", "stk, OPT", "--no-live-fraction", "0.2", "--no-delayed", "--hours"]
    )
    config = config_from(args)
    assert (config.no_live_sec_types, config.no_live_fraction) == (("STK", "OPT"), 0.2)
    assert (config.delayed_data, config.hours, config.clock_offset_s) == (False, True, 0.0)
    assert config_from(parse_args(["--clock-offset-s", "-3600"])).clock_offset_s == -3600


def test_a_taken_port_exits_1_naming_it(simulator: Simulator) -> None:
    result = _run("--port", str(simulator.port), "--admin-port", "0")
    assert result.returncode == 1
    assert f"127.0.0.1:{simulator.port}" in result.stderr
