"""Real separate processes for the fault suite: the simulated gateway (`python -m simulator`) and the service
(`python -m tests.faults.service_child`), each killable with SIGKILL.

`GatewayProcess` runs `python -m simulator` and offers the few `Simulator` methods the rig uses, through the
simulator's admin endpoint, so a `Rig` runs against it as against an in-process simulator.
"""

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import msgspec

from possync.simulator import DemoPosition, SimulatorStats
from tests.app.support import REPO, free_port
from tests.helpers import wait_until

START_S = 30.0


def _http(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data or None, method=method)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read()


class GatewayProcess:
    """`python -m simulator` on a fixed API port, started, SIGKILLed and started again on the same port."""

    def __init__(self, log: Path, positions: int = 30, tick_hz: float = 20.0) -> None:
        self.port, self.admin_port = free_port(), free_port()
        self._args = ["--positions", str(positions), "--tick-hz", str(tick_hz), "--log-level", "WARNING"]
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until its admin endpoint answers."""
        ports = ["--port", str(self.port), "--admin-port", str(self.admin_port)]
        with self._log.open("ab") as sink:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "possync.simulator", *ports, *self._args],
                cwd=REPO,
                stdout=sink,
                stderr=sink,
            )
        wait_until(self._answers, START_S, 0.05, message=f"simulator on {self.port}: {self._log}")

    def kill(self) -> None:
        """SIGKILL the process (its sockets close with it) and reap it."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def _answers(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise AssertionError(f"the simulator exited: {self._log.read_text()}")
        try:
            self.stats()
        except OSError:
            return False
        return True

    # --- the Simulator methods the rig uses ---

    def stats(self) -> SimulatorStats:
        return msgspec.json.decode(_http(self.admin_port, "GET", "/stats"), type=SimulatorStats)

    def positions(self) -> list[DemoPosition]:
        return msgspec.json.decode(_http(self.admin_port, "GET", "/positions"), type=list[DemoPosition])

    def resume(self) -> None:
        if self._process is not None:
            _http(self.admin_port, "POST", "/resume")
