"""Option rows: rows/s the service writes for 100 streamed options at 4 ticks/s, and bytes per row on disk.

The whole service (`bench/service.py`) with 100 option positions active, against the simulator in a child
process; after the streams tick, rows of source `stream` are counted in `position_updates` over the window
and the table's data files are measured at the end (bytes on disk / rows in them). Run it on a checkout
before #15 for the "before" figure (that code writes a row per new market price and no quote or greeks).

    .venv/bin/python -m bench.option_rows [--streams 100] [--tick-hz 4] [--seconds 20]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/option_rows.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
from deltalake import DeltaTable

from bench.common import Report, Table, bench_main, num, wait_for
from bench.service import Updates, settings_for, start_service
from bench.simproc import SimProcess
from possync.messages.domain import Source
from possync.messages.lake import FlushNow
from possync.simulator import SimulatorConfig

PORTFOLIO = 400
"""Positions in the simulator's portfolio: enough to hold 100 options."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's flags."""
    parser.add_argument("--streams", type=int, default=100, help="streamed option contracts")
    parser.add_argument("--tick-hz", type=float, default=4.0, help="ticks/s per stream")
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window")


def run(args: argparse.Namespace) -> Report:
    """Stream the options, count the rows written in the window, measure the files."""
    config = SimulatorConfig(positions=PORTFOLIO, max_lines=args.streams + 10, tick_hz=args.tick_hz)
    with SimProcess(config) as sim, tempfile.TemporaryDirectory(prefix="bench-options-") as directory:
        options = [p for p in sim.positions() if p.sec_type == "OPT" and p.position][: args.streams]
        settings = settings_for(sim.port, Path(directory), len(options))
        rows: list[float] = []
        keep = lambda o: rows.append(time.monotonic()) if o.source is Source.STREAM else None  # noqa: E731
        service, _ = start_service(settings, options, Updates(keep=False), on_observation=keep)
        try:
            started = time.monotonic()
            wait_for(lambda: time.monotonic() - started >= args.seconds, args.seconds + 5, "the window")
            written = sum(1 for at in list(rows) if started <= at < started + args.seconds)
            service.tree.whereis("lake_writer").ask(FlushNow(), timeout=30)
        finally:
            service.stop()
        size, count = _on_disk(Path(directory) / "lake" / "position_updates")
    table = Table(
        f"Stream rows of {len(options)} options x {args.tick_hz:g} ticks/s, {args.seconds:g} s window",
        ["options", "rows/s", "rows/s per stream", "bytes/row on disk", "rows in the table"],
    )
    rate = written / args.seconds
    per_stream = rate / max(1, len(options))
    table.rows.append([len(options), num(rate), num(per_stream, 2), num(size / count, 1), count])
    return Report("Option rows", [table], [])


def _on_disk(path: Path) -> tuple[int, int]:
    actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).to_pydict()
    return sum(actions["size_bytes"]), max(1, sum(actions["num_records"]))


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
