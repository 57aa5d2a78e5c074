"""The simulated gateway in a child process, as a real gateway is: its CPU, memory and threads are not ours.

`SimProcess` starts a `Simulator` in a spawned process and forwards calls over a pipe. Its send hook
(`Simulator.set_send_hook`) records, while `record(True)`, every tick written as
`(sent_at, conid, tick type, price)`; `take_records()` fetches and clears them. `sent_at` is
`time.monotonic()`, the system-wide CLOCK_MONOTONIC on Linux, so it compares with the receiving process's
`time.monotonic()`.
"""

import contextlib
import multiprocessing
import multiprocessing.connection
from typing import Any

from possync.simulator import DemoPosition, Simulator, SimulatorConfig, SimulatorStats

Record = tuple[float, int, int, float | None]
"""One tick sent: (sent_at monotonic s, conid, tick type, price or None for a size tick)."""
CALL_TIMEOUT_S = 60.0


class SimProcess:
    """A Simulator in a child process (see the module docstring); a context manager that stops it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, config), name="bench-simulator")
        self._process.start()
        child.close()
        self.port = 0

    def start(self) -> int:
        """Start listening; the API port."""
        self.port = self._call("start")
        return self.port

    def stop(self) -> None:
        """Stop the gateway (every client is disconnected); the process stays for `start()` again."""
        self._call("stop")

    def restart(self) -> int:
        """A full gateway restart on the same port."""
        return self._call("restart")

    def stats(self) -> SimulatorStats:
        """The simulator's stats."""
        return self._call("stats")

    def positions(self) -> list[DemoPosition]:
        """The portfolio's positions."""
        return self._call("positions")

    def set_tick_hz(self, tick_hz: float) -> None:
        """Ticks per second per subscription from the next pump cycle."""
        self._call("set_tick_hz", tick_hz)

    def send_error(self, code: int) -> int:
        """Send error `code` to every client, with a real gateway's side effects (1101: data lost)."""
        return self._call("send_error", code)

    def set_position(self, conid: int, quantity: float) -> DemoPosition:
        """Change a position; position and account-update subscribers are told at once."""
        return self._call("set_position", conid, quantity)

    def record(self, on: bool) -> None:
        """Start (True) or stop (False) recording every tick sent."""
        self._call("record", on)

    def take_records(self) -> list[Record]:
        """The ticks recorded so far, oldest first (cleared)."""
        return self._call("take_records")

    def close(self) -> None:
        """Stop the simulator and end the child process."""
        if self._process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self._call("close")
            self._process.join(10.0)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()

    def __enter__(self) -> "SimProcess":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        if not self._conn.poll(CALL_TIMEOUT_S):
            raise TimeoutError(f"the simulator process did not answer {command!r} in {CALL_TIMEOUT_S}s")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"simulator process, {command}: {value}")
        return value


def _serve(conn: multiprocessing.connection.Connection, config: SimulatorConfig) -> None:
    """The child: run commands from the pipe until 'close'."""
    sim = Simulator(config)
    records: list[Record] = []

    def hook(sent_at: float, ticks: list[tuple[int, int, int, float | None]]) -> None:
        records.extend((sent_at, conid, kind, price) for _, conid, kind, price in ticks)

    def take() -> list[Record]:
        taken = records[:]
        del records[: len(taken)]
        return taken

    commands = {
        "start": sim.start,
        "stop": sim.stop,
        "restart": sim.restart,
        "stats": sim.stats,
        "positions": sim.positions,
        "set_tick_hz": sim.set_tick_hz,
        "send_error": sim.send_error,
        "set_position": sim.set_position,
        "record": lambda on: sim.set_send_hook(hook if on else None),
        "take_records": take,
    }
    while True:
        command, args = conn.recv()
        if command == "close":
            sim.stop()
            conn.send((True, None))
            return
        try:
            conn.send((True, commands[command](*args)))
        except Exception as error:
            conn.send((False, repr(error)))
