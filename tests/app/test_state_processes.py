"""State that belongs to its lake (#14 item 2), with the service as a real process (`python run.py`):
two services run one after another in the same directory with different lakes, each keeps its queue state
next to its own lake; a state file of another lake is set aside and rebuilt; after a kill -9 the restarted
service has a row of every position within one poll cycle."""

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from possync.actors.polling import StateIdentity
from possync.actors.polling._state_file import saved_identity
from possync.simulator import Simulator
from tests.app.support import REPO, free_port, get_json, scenario_settings, sources_by_conid, write_toml
from tests.conftest import one_ib_client
from tests.helpers import wait_until

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Not about the IB client: these tests run once, with the default client (see tests/conftest.py)."""

WAIT_S = 40.0
NONE = StateIdentity("", "", "", "")


class RunPy:
    """`python run.py --config CONFIG` in `cwd`, its output in `log`."""

    def __init__(self, cwd: Path, sections: dict[str, dict[str, Any]], name: str) -> None:
        self.config = write_toml(cwd / f"{name}.toml", sections)
        self.log = cwd / f"{name}.log"
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "RunPy":
        with self.log.open("ab") as sink:
            command = [sys.executable, str(REPO / "run.py"), "--config", str(self.config)]
            self.process = subprocess.Popen(command, cwd=self.cwd, stdout=sink, stderr=sink)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)

    def text(self) -> str:
        return self.log.read_text()


def _settings(port: int, tmp: Path, lake: str, http_port: int = 0, **queue: Any) -> dict[str, dict[str, Any]]:
    """The scenario's settings with a relative lake and the default state file (unless `queue` sets one)."""
    sections = scenario_settings(port, tmp, http_port)
    sections["lake"]["root"] = lake
    sections["queue"] = {"save_interval_s": 0.2, **queue}
    return sections


def _every_position_has_a_row(root: Path, sim: Simulator) -> bool:
    return {p.conid for p in sim.positions() if p.position} <= sources_by_conid(root).keys()


def _run_until_every_row(cwd: Path, sim: Simulator, sections: dict[str, dict[str, Any]], name: str) -> str:
    service = RunPy(cwd, sections, name).start()
    try:
        root = cwd / sections["lake"]["root"]
        wait_until(lambda: _every_position_has_a_row(root, sim), WAIT_S, message=f"rows: {service.log}")
        wait_until(
            lambda: (root / "_state" / "queue.msgpack").exists() or "state_file" in sections["queue"], 10
        )
    finally:
        assert service.stop() == 0, service.text()
    return service.text()


@pytest.mark.timeout(150)
def test_two_services_in_one_directory_keep_their_state_with_their_lakes(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=20)
    first = _run_until_every_row(tmp_path, sim, _settings(sim.port, tmp_path, "lake-a"), "a")
    second = _run_until_every_row(tmp_path, sim, _settings(sim.port, tmp_path, "lake-b"), "b")

    for name, log in (("lake-a", first), ("lake-b", second)):
        state = tmp_path / name / "_state" / "queue.msgpack"
        assert f"state {state}" in log  # run.py says where its state and lake are
        identity = saved_identity(state)
        assert identity is not None and identity.lake == str((tmp_path / name).resolve())
        assert identity.table_id and identity.gateway == f"127.0.0.1:{sim.port}"
        assert "is not this service's" not in log
    assert not (tmp_path / "state").exists()  # nothing relative to the working directory any more

    shared = str(tmp_path / "lake-a" / "_state" / "queue.msgpack")  # a user-set file, of another lake
    third = _run_until_every_row(
        tmp_path, sim, _settings(sim.port, tmp_path, "lake-c", state_file=shared), "c"
    )
    assert third.count("is not this service's") == 1
    assert len(list((tmp_path / "lake-a" / "_state").glob("queue.msgpack.*.mismatch"))) == 1
    identity = saved_identity(Path(shared))
    assert identity is not None and identity.lake == str((tmp_path / "lake-c").resolve())  # honoured


@pytest.mark.timeout(150)
def test_after_a_kill_9_every_position_has_a_row_within_one_poll_cycle(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=60)
    http_port = free_port()
    sections = _settings(sim.port, tmp_path, "lake", http_port, lease_s=600.0, refresh_s=600.0)
    sections["poller"].update(interval_s=2.0)
    root = tmp_path / "lake"
    killed = RunPy(tmp_path, sections, "killed").start()
    try:
        wait_until(lambda: (root / "_state" / "queue.msgpack").exists(), WAIT_S, message=killed.log)
        time.sleep(random.uniform(0.0, 2.0))  # a random point of the first cycles
    finally:
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(lambda: sim.stats().clients == 0, 10, message="the killed client is gone")

    restarted = RunPy(tmp_path, sections, "restarted").start()
    try:
        wait_until(lambda: _connected(http_port), WAIT_S, 0.05, message=restarted.log)
        connected = time.monotonic()
        cycle_s = sections["poller"]["interval_s"] + 3.0  # a cycle, a lake flush and the reading of the lake
        wait_until(
            lambda: _every_position_has_a_row(root, sim), cycle_s, 0.1, message="a row of every position"
        )
        assert time.monotonic() - connected <= cycle_s
    finally:
        assert restarted.stop() == 0, restarted.text()


def _connected(http_port: int) -> bool:
    try:
        return get_json(http_port, "/status")[1]["connection"]["connected"]
    except OSError:
        return False
