"""Soak: the whole service for hours against a simulated gateway (its own process) that keeps going away.

The service (the `possync.Service` facade, default settings but the paths and the port) streams
`--streams` active contracts at `--tick-hz` and keeps `--positions` positions fresh; the simulator restarts
completely every `--restart-every` seconds, sends 1101 (connectivity restored, data lost) every
`--data-lost-every` seconds and moves a position every `--move-every` seconds. Every `--sample-s` one
row goes to the CSV (`bench/soak_report.COLUMNS`: memory, Arrow pool, threads, file descriptors, lake
files and bytes, journal bytes, commit p50/p99, rows acknowledged and written, lines ours and the
gateway's, streams streaming, restarts, degraded reasons). At the end the service stops and the lake is
read back: every row the writer acknowledged (`on_observation`) is in `position_updates`; before the stop,
the last position moved must reach the lake within a queue refresh and the gateway hold exactly our lines.
`bench/soak_report.py` turns the CSV into the summary and the plot.

    .venv/bin/python -m bench.soak [--duration 7200] [--csv bench/soak.csv] [--plot bench/soak.png]
"""

import argparse
import csv
import itertools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

if __package__ in (None, ""):  # run as a file: `python bench/soak.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
from deltalake import DeltaTable

from bench import soak_report
from bench.common import malloc_mib, pymalloc_mib, rss_mib, rss_parts_mib, wait_for
from bench.service import register, settings_for
from bench.simproc import SimProcess
from possync import Service
from possync.actors.lake import POSITION_UPDATES, query
from possync.config import Settings
from possync.messages.domain import Observation
from possync.messages.status import ServiceStatus
from possync.simulator import DemoPosition, SimulatorConfig


class Acknowledged:
    """Counts the observations the lake writer accepted (`Service.on_observation`, the writer's thread)."""

    def __init__(self) -> None:
        self.rows = 0

    def __call__(self, observation: Observation) -> None:
        self.rows += 1


def _events(args: argparse.Namespace, sim: SimProcess, moved: DemoPosition) -> list["Every"]:
    quantities = itertools.count(int(moved.position) + 1)
    return [
        Every("restart", args.restart_every, sim.restart),
        Every("1101", args.data_lost_every, lambda: sim.send_error(1101)),
        Every("move", args.move_every, lambda: sim.set_position(moved.conid, float(next(quantities)))),
    ]


class Every:
    """An event fired every `period_s` (the first after one period)."""

    def __init__(self, name: str, period_s: float, fire: Callable[[], object]) -> None:
        self.name, self.period_s, self.fire = name, period_s, fire
        self.due = time.monotonic() + period_s
        self.count = 0

    def poll(self, now: float, started: float) -> None:
        """Fire if due."""
        if now < self.due:
            return
        print(f"{now - started:8.0f}s {self.name}", flush=True)
        self.fire()
        self.count += 1
        self.due = now + self.period_s


def _files(root: Path) -> tuple[int, int]:
    """(files, bytes) under `root` (0, 0 when absent)."""
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


def _sample(service: Service, sim: SimProcess, lake: Path, acked: Acknowledged, t_s: float) -> dict:
    status = service.status()
    used, kept = malloc_mib()
    tables = [lake / name for name in ("position_updates", "position_queue", "active_strategies")]
    lake_files = [_files(table) for table in tables]
    return {
        "t_s": round(t_s, 1),
        "rss_mib": round(rss_mib(), 1),
        "arrow_mib": round(pa.total_allocated_bytes() / 2**20, 1),
        "threads": threading.active_count(),
        "fds": len(os.listdir("/proc/self/fd")),
        "lake_files": sum(f for f, _ in lake_files),
        "lake_mib": round(sum(b for _, b in lake_files) / 2**20, 2),
        "journal_kib": round(_files(lake / "_journal")[1] / 1024, 1),
        "commit_p50_ms": round(status.lake.commit_p50_s * 1000, 1),
        "commit_p99_ms": round(status.lake.commit_p99_s * 1000, 1),
        "rows_acked": acked.rows,
        "rows_written": status.lake.rows_written,
        "pending_rows": status.lake.pending_rows,
        "lines": status.slots.in_use,
        "gateway_lines": sim.stats().subscriptions,
        "streaming": _streaming(status),
        "restarts": status.supervision.restarts,
        "degraded": len(status.degraded),
        "rss_anon_mib": round(rss_parts_mib()[0], 1),
        "malloc_used_mib": round(used, 1),
        "malloc_free_mib": round(kept, 1),
        "pymalloc_mib": round(pymalloc_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = SimulatorConfig(positions=args.positions, max_lines=args.gateway_lines, tick_hz=args.tick_hz)
    with SimProcess(config) as sim, tempfile.TemporaryDirectory(prefix="possync-soak-") as tmp:
        positions = [p for p in sim.positions() if p.position]
        memory = {"trim_interval_s": args.trim_interval_s}
        settings = settings_for(sim.port, Path(tmp), args.streams, memory=memory)
        register(settings, positions[: args.streams])
        problems = _run(Service(settings), sim, positions, Path(settings.lake.root), args)
    summary = soak_report.report(args.csv, args.plot)
    print(summary, "\n".join(problems) or "every invariant held", sep="\n\n")
    return 1 if problems else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--duration", type=float, default=7200.0, help="seconds (default 2 hours)")
    add("--positions", type=int, default=1000)
    add("--streams", type=int, default=100)
    add("--tick-hz", type=float, default=4.0, help="ticks per second per stream")
    add("--gateway-lines", type=int, default=110, help="the simulated gateway's line limit")
    add("--restart-every", type=float, default=600.0, help="a full gateway restart every N s")
    add("--data-lost-every", type=float, default=900.0, help="a 1101 every N s")
    add("--move-every", type=float, default=60.0, help="a position change every N s")
    add("--sample-s", type=float, default=30.0)
    add("--trim-interval-s", type=float, default=Settings().memory.trim_interval_s, help="0: no heap trim")
    add("--csv", type=Path, default=Path("soak.csv"), help="where the samples go")
    add("--plot", type=Path, default=Path("soak.png"), help="where the plot goes")
    return parser


def _run(service: Service, sim: SimProcess, positions: list, lake: Path, args: argparse.Namespace) -> list:
    acked = Acknowledged()
    service.on_observation(acked)
    events = _events(args, sim, positions[-1])
    with service, args.csv.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=soak_report.COLUMNS)
        writer.writeheader()
        _loop(service, sim, lake, acked, events, writer, out, args.duration, args.sample_s)
        problems = _check_running(service, sim, args) + _check_moved(lake, sim, positions[-1])
    return problems + _check_lake(lake, acked)


def _loop(
    service: Service,
    sim: SimProcess,
    lake: Path,
    acked: Acknowledged,
    events: list[Every],
    writer: csv.DictWriter,
    out: TextIO,
    duration_s: float,
    sample_s: float,
) -> None:
    """Fire the events when due and write a sample every `sample_s`, for `duration_s`."""
    started = next_sample = time.monotonic()
    while (now := time.monotonic()) - started < duration_s:
        for event in events:
            event.poll(now, started)
        if now >= next_sample:
            row = _sample(service, sim, lake, acked, now - started)
            writer.writerow(row)
            out.flush()
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            next_sample += sample_s
        time.sleep(0.2)


def _check_running(service: Service, sim: SimProcess, args: argparse.Namespace) -> list[str]:
    try:
        wait_for(lambda: _streaming(service.status()) == args.streams, 120, "every stream streaming again")
    except TimeoutError as error:
        return [str(error)]
    ours, theirs = service.status().slots.in_use, sim.stats().subscriptions
    return [] if ours == theirs else [f"lines: the service holds {ours}, the gateway {theirs}"]


def _streaming(status: ServiceStatus) -> int:
    return sum(s.state == "streaming" for s in status.streams)


def _check_moved(lake: Path, sim: SimProcess, moved: DemoPosition) -> list[str]:
    """The last move reaches the lake within a refresh of the queue (`MOVED_WITHIN_S`): a move made while
    the gateway restarted is not pushed at reconnect, the poller finds it."""
    held = {p.conid: p.position for p in sim.positions()}[moved.conid]
    sql = f"SELECT position FROM t WHERE conid = {moved.conid} ORDER BY event_ts DESC LIMIT 1"

    def latest() -> float | None:
        rows = query(DeltaTable(str(lake / POSITION_UPDATES.name)), sql).column("position")
        return rows[0].as_py() if len(rows) else None

    try:
        wait_for(
            lambda: latest() == held, MOVED_WITHIN_S, f"position {moved.conid} = {held} in the lake", 1.0
        )
    except TimeoutError as error:
        return [f"{error} (the lake says {latest()})"]
    return []


MOVED_WITHIN_S = 90.0
"""`queue.refresh_s` (60 s by default) and a margin."""


def _check_lake(lake: Path, acked: Acknowledged) -> list[str]:
    """After stop: every acknowledged row is in the lake."""
    table = DeltaTable(str(lake / POSITION_UPDATES.name))
    rows = query(table, "SELECT count(*) AS n FROM t").column("n")[0].as_py()
    print(f"rows acknowledged {acked.rows:,}, rows in position_updates {rows:,}")
    return [] if rows == acked.rows else [f"rows: acknowledged {acked.rows}, in the lake {rows}"]


if __name__ == "__main__":
    sys.exit(main())
