"""Faults that need real processes: the service killed with SIGKILL at random points and started again on
the same lake, and the simulated gateway's process killed and started again under a running service."""

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from possync.actors.names import CONNECTION
from possync.simulator import Simulator
from possync.supervisors import EventKind
from tests.app.support import REPO, free_port, get_json, register_active, write_toml
from tests.faults.invariants import Acknowledged, exactly_once, lake_identities
from tests.faults.processes import GatewayProcess
from tests.faults.rig import Rig, fault_settings
from tests.helpers import wait_until

KILLS = 3
ACTIVE = 5
WAIT_S = 60.0


def _streaming(http_port: int, sim: Simulator) -> bool:
    """Whether /status and the gateway agree that the ACTIVE contracts stream."""
    try:
        code, status = get_json(http_port, "/status")
    except OSError:
        return False
    streaming = sum(1 for s in status["streams"] if s["state"] == "streaming")
    return code == 200 and status["slots"]["in_use"] == streaming == ACTIVE == sim.stats().subscriptions


def _acked(acks: Path) -> int:
    return sum(Acknowledged.load(acks).values())


@pytest.mark.timeout(180)
def test_sigkill_of_the_service_at_random_points_then_a_restart_loses_and_duplicates_nothing(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    seed = int(os.environ.get("POSSYNC_KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    print(f"seed={seed}")
    sim = simulator_factory(positions=30)
    http_port = free_port()
    sections = fault_settings(sim.port, tmp_path, http={"port": http_port})
    config = write_toml(tmp_path / "possync.toml", sections)
    root = Path(sections["lake"]["root"])
    register_active(root, sim.positions()[:ACTIVE])
    acks, log = tmp_path / "acks", tmp_path / "service.log"

    def child() -> subprocess.Popen[bytes]:
        with log.open("ab") as sink:
            command = [sys.executable, "-m", "tests.faults.service_child", str(config), str(acks)]
            return subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=sink)

    for _ in range(KILLS):
        before, kill_after = _acked(acks), rng.randint(1, 400)
        process = child()
        try:
            wait_until(lambda b=before, k=kill_after: _acked(acks) - b >= k, WAIT_S, 0.005, "acks")
            time.sleep(rng.uniform(0, 0.05))  # a random point: journal, commit, compaction, a status ask
        finally:
            process.kill()
            process.wait(10)
        assert process.returncode == -signal.SIGKILL, log.read_text()
        wait_until(lambda: sim.stats().clients == 0 == sim.stats().subscriptions, 10, message="lines freed")

    last = child()
    try:
        wait_until(lambda: _streaming(http_port, sim), WAIT_S, 0.05, message="streaming after the kills")
        last.send_signal(signal.SIGTERM)
        assert last.wait(30) == 0, log.read_text()
    finally:
        if last.poll() is None:
            last.kill()
            last.wait(10)
    assert "service child stopped cleanly" in log.read_text()
    assert sim.stats().orders == 0 == sim.stats().pacing_violations

    check = exactly_once(Acknowledged.load(acks), lake_identities(root))
    assert check.problems(strays_allowed=True) == []  # a row journaled just before a kill may be unacked
    assert check.acknowledged > 0


@pytest.mark.timeout(120)
def test_the_gateway_process_killed_and_started_again_is_reconnected(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "simulator.log")
    gateway.start()
    try:
        rig = Rig.start(gateway, tmp_path)  # type: ignore[arg-type]  # the Simulator methods it uses
        try:
            mark = rig.mark()
            gateway.kill()
            rig.wait_event(EventKind.EXITED, CONNECTION, after=mark)
            gateway.start()
            rig.wait_event(EventKind.STARTED, CONNECTION, after=mark)
            rig.finish()
        finally:
            rig.service.stop()
    finally:
        gateway.kill()
