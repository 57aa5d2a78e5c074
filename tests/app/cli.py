"""Running `python run.py` as a separate process: a command to completion, the service in the background,
or the service on a terminal (a pseudo-terminal, to see the live status line)."""

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from tests.app.support import REPO
from tests.helpers import ib_client

RUN = [sys.executable, str(REPO / "run.py")]
COMMAND_TIMEOUT_S = 60.0


def _env() -> dict[str, str]:
    """This process's environment, with the IB client of the current test for the service."""
    return {**os.environ, "POSSYNC_IB_CLIENT": ib_client()}


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python run.py ARGS` in `cwd` to completion; its exit code, stdout and stderr."""
    return subprocess.run(
        [*RUN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
        env=_env(),
    )


def start_service(args: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `python run.py ARGS` in `cwd`; the process and the file collecting its output."""
    log = cwd / "service.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*RUN, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=_env()
        )
    return process, log


def run_on_terminal(args: list[str], cwd: Path, timeout_s: float) -> tuple[int, str]:
    """Run `python run.py ARGS` in `cwd` with its output on a pseudo-terminal; its exit code and output."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*RUN, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=_env()
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process and its children have exited
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read, name="terminal-reader", daemon=True)
    reader.start()
    try:
        code = process.wait(timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(10)
        os.close(controller)
    return code, b"".join(chunks).decode(errors="replace")
