"""The live status: one compact line, kept below the log on a terminal, a periodic log line elsewhere."""

import io
from collections.abc import Iterator

import pytest

from possync.actors.service._status_line import LiveStatus, Terminal, summary
from possync.messages.status import (
    ConnectionStatus,
    LakeStatusSummary,
    QueueStatus,
    ServiceStatus,
    SlotStatus,
    StreamStatus,
    SupervisionStatus,
)
from tests.helpers import captured_log, wait_until

HEALTHY = ServiceStatus(
    connection=ConnectionStatus(connected=True, host="127.0.0.1", port=4002),
    slots=SlotStatus(budget=90, effective=90, in_use=2),
    streams=[StreamStatus(1, "streaming", 0.1), StreamStatus(2, "streaming", 0.3), StreamStatus(3, "queued")],
    queue=QueueStatus(depth=180),
    lake=LakeStatusSummary(rows_written=12345, pending_rows=7),
    supervision=SupervisionStatus(restarts=1, restarts_by_actor={"stream-1": 1}),
)
DEGRADED = ServiceStatus(
    connection=ConnectionStatus(connected=False, host="10.0.0.5", port=4001),
    slots=SlotStatus(budget=90, effective=60, in_use=0),
    streams=[],
    queue=QueueStatus(depth=3),
    lake=LakeStatusSummary(rows_written=0, pending_rows=0),
    supervision=SupervisionStatus(restarts=0),
    degraded=["not connected to the gateway at 10.0.0.5:4001: refused", "lake writer: disk full"],
)


@pytest.fixture
def logged() -> Iterator[list[str]]:
    with captured_log("INFO") as lines:
        yield lines


def test_the_summary_names_what_matters_in_one_line() -> None:
    assert summary(HEALTHY) == (
        "connected 127.0.0.1:4002 | lines 2/90 | streams 3 (1 queued, 2 streaming) | queue 180 "
        "| rows 12,345 (+7 pending) | restarts 1"
    )
    assert summary(DEGRADED) == (
        "NOT connected 10.0.0.5:4001 | lines 0/90 (effective 60) | streams 0 (none) | queue 3 "
        "| rows 0 (+0 pending) | restarts 0 "
        "| DEGRADED: not connected to the gateway at 10.0.0.5:4001: refused (+more)"
    )


def test_the_log_is_written_above_the_status_line() -> None:
    out = io.StringIO()
    terminal = Terminal(out)

    terminal.write("before any status\n")
    terminal.show("status 1")
    terminal.write("a log line\n")
    terminal.show("status 2")
    terminal.show("")

    assert out.getvalue() == (
        "before any status\n\r\x1b[Kstatus 1\r\x1b[Ka log line\nstatus 1\r\x1b[Kstatus 2\r\x1b[K"
    )


@pytest.mark.timeout(20)
def test_a_terminal_gets_the_line_rewritten_and_cleared_on_stop() -> None:
    out = io.StringIO()
    live = LiveStatus(lambda: HEALTHY, Terminal(out), every_s=0.01)

    live.start()
    wait_until(lambda: out.getvalue().count(summary(HEALTHY)) >= 3)
    live.stop()

    assert out.getvalue().endswith("\r\x1b[K")


@pytest.mark.timeout(20)
def test_without_a_terminal_the_summary_is_logged_periodically(logged: list[str]) -> None:
    answers = iter([HEALTHY])

    def status() -> ServiceStatus:
        return next(answers)  # then StopIteration: a failing status source

    live = LiveStatus(status, None, every_s=0.01)
    live.start()
    wait_until(lambda: len(logged) >= 2)
    live.stop()

    assert logged[0] == f"status: {summary(HEALTHY)}"
    assert logged[1] == "status: status unavailable: StopIteration()"
