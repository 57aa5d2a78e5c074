"""The live status of `python run.py`: one rewritten terminal line, or a periodic summary in the log.

On a terminal, `Terminal` keeps one status line at the bottom, rewritten with `\\r`; anything else
written through it (the log) appears above that line. `LiveStatus` refreshes the line at most
`TERMINAL_EVERY_S`; when the output is not a terminal (a log file, a service manager) it logs the same
summary at INFO every `SUMMARY_EVERY_S` instead, so a log file is never flooded.
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from loguru import logger

from possync.actors.service._periodic import Periodic
from possync.messages.status import ServiceStatus

TERMINAL_EVERY_S = 0.5
SUMMARY_EVERY_S = 30.0
_CLEAR = "\r\x1b[K"
"""Back to the start of the line and erase it."""


def summary(status: ServiceStatus) -> str:
    """One compact line: connection, lines held/budget, streams by state, queue, rows, restarts, health."""
    connection = status.connection
    where = f"{connection.host}:{connection.port}"
    link = f"connected {where}" if connection.connected else f"NOT connected {where}"
    slots = status.slots
    lines = f"lines {slots.in_use}/{slots.budget}"
    if slots.effective < slots.budget:
        lines += f" (effective {slots.effective})"
    states = Counter(stream.state for stream in status.streams)
    streams = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
    delayed = sum(1 for stream in status.streams if stream.data_type in ("delayed", "delayed_frozen"))
    if delayed:
        streams += f"; {delayed} delayed"
    lake = status.lake
    parts = [
        link,
        lines,
        f"streams {len(status.streams)} ({streams})",
        f"queue {status.queue.depth}",
        f"rows {lake.rows_written:,} (+{lake.pending_rows:,} pending)",
        f"restarts {status.supervision.restarts}",
    ]
    if status.degraded:
        parts.append(f"DEGRADED: {status.degraded[0]}" + (" (+more)" if len(status.degraded) > 1 else ""))
    return " | ".join(parts)


class Terminal:
    """A text stream for a terminal with a status line kept below everything written through it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._line = ""

    def write(self, text: str) -> int:
        """Write `text` above the status line (the line is drawn again after each complete line)."""
        with self._lock:
            if self._line:
                self._stream.write(_CLEAR)
            self._stream.write(text)
            if self._line and text.endswith("\n"):
                self._stream.write(self._line)
            self._stream.flush()
        return len(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        with self._lock:
            self._stream.flush()

    def isatty(self) -> bool:
        """True: this is a terminal."""
        return True

    def show(self, line: str) -> None:
        """Replace the status line with `line` ("" removes it)."""
        with self._lock:
            self._stream.write(_CLEAR + line)
            self._stream.flush()
            self._line = line


class LiveStatus(Periodic):
    """A daemon thread showing `summary(status())` on `terminal`, or logging it when there is none.

    It refreshes every `every_s` (default: `TERMINAL_EVERY_S` on a terminal, else `SUMMARY_EVERY_S`).
    """

    def __init__(
        self, status: Callable[[], ServiceStatus], terminal: Terminal | None, every_s: float | None = None
    ) -> None:
        every_s = every_s or (TERMINAL_EVERY_S if terminal is not None else SUMMARY_EVERY_S)
        super().__init__(every_s, "possync-status-line")
        self._status = status
        self._terminal = terminal

    def stop(self) -> None:
        """Stop refreshing and remove the line from the terminal."""
        super().stop()
        if self._terminal is not None:
            self._terminal.show("")

    def tick(self) -> None:
        """Show (or log) the summary once."""
        try:
            line = summary(self._status())
        except Exception as error:  # the status must never end the service
            line = f"status unavailable: {error!r}"
        if self._terminal is not None:
            self._terminal.show(line)
        else:
            logger.info("status: {}", line)
