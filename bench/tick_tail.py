"""Where the tick path's tail comes from: possync's added p99 with parts of the service switched off.

`bench.tick_path` measures possync against the bare client; this one takes the added latency apart. One
simulator (spread ticks: 100 streams x 10 ticks/s, one tick per write) serves, in each of `--rounds`
rounds, the bare ib_insync client (the ceiling, `bench.tick_path.BareClient`) and then possync once per
variant, each for `--seconds` of latency windows (`bench.tick_path.measure_latency`: the p99 is the
median of three windows' p99). The figure per variant is the median over the rounds of its p99 minus the
same round's bare p99, so a round on a busier machine moves both. Variants (settings over the defaults;
every tick a row, as in `bench.tick_path`):
- default: the whole service;
- slow stream writes: `streams.write_interval_s = 5` (each stream hands its rows to the lake writer every
  5 s instead of every 0.5 s: a tenth of the stream timers' wake-ups and of the writer's messages);
- no commits: `lake.flush_interval_s` = an hour and `lake.flush_rows` = 10⁹ (rows are journaled, never
  committed to Delta);
- no P&L channel: `pnl.enabled = false`;
- quiet: all three at once (what is left is the path itself).

    .venv/bin/python -m bench.tick_tail [--rounds 3] [--seconds 15] [--inline]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: `python bench/x.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec

from bench.common import Report, Table, bench_main, ms
from bench.service import Updates, settings_for, start_service
from bench.simproc import SimProcess
from bench.tick_path import Step, bare_steps, measure_latency
from possync.simulator import SimulatorConfig

STREAMS = 100
TICK_HZ = 10.0
_SLOW_WRITES = {"streams": {"write_interval_s": 5.0}}
_NO_COMMITS = {"lake": {"flush_interval_s": 3600.0, "flush_rows": 10**9}}
_NO_PNL = {"pnl": {"enabled": False}}
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    "slow stream writes": _SLOW_WRITES,
    "no commits": _NO_COMMITS,
    "no P&L channel": _NO_PNL,
    "quiet (all three)": {**_SLOW_WRITES, **_NO_COMMITS, **_NO_PNL},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--rounds", type=int, default=3, help="rounds of bare + every variant")
    parser.add_argument("--seconds", type=float, default=15.0, help="latency windows per receiver and round")
    parser.add_argument("--inline", action="store_true", help="an inline on_update handler (else queued)")


def possync_step(sim: SimProcess, overrides: dict[str, dict[str, Any]], seconds: float, inline: bool) -> Step:
    """possync with `overrides` over the defaults: its latency step."""
    positions = sim.positions()[:STREAMS]
    updates = Updates()
    with tempfile.TemporaryDirectory(prefix="bench-tail-") as directory:
        sections = {section: dict(values) for section, values in overrides.items()}
        streams = {"min_row_interval_s": 0.0, **sections.pop("streams", {})}  # every tick a row
        settings = settings_for(sim.port, Path(directory), STREAMS, **sections)
        streams_settings = msgspec.structs.replace(settings.streams, **streams)
        settings = msgspec.structs.replace(settings, streams=streams_settings)
        service, _ = start_service(settings, positions, updates, inline=inline)
        try:
            sim.set_tick_hz(TICK_HZ)
            return measure_latency(sim, updates, TICK_HZ, seconds, lambda: (0, ""))
        finally:
            service.stop()


def run(args: argparse.Namespace) -> Report:
    """Bare, then every variant, `--rounds` times on one simulator."""
    config = SimulatorConfig(positions=STREAMS, max_lines=STREAMS, tick_hz=TICK_HZ, tick_slots=STREAMS)
    bare: list[Step] = []
    steps: dict[str, list[Step]] = {name: [] for name in VARIANTS}
    with SimProcess(config) as sim:
        conids = [p.conid for p in sim.positions()[:STREAMS]]
        for _ in range(args.rounds):
            bare += bare_steps(sim, conids, [TICK_HZ], [args.seconds])
            for name, overrides in VARIANTS.items():
                steps[name].append(possync_step(sim, overrides, args.seconds, args.inline))
    return Report("Tick path tail by part", [_table(bare, steps, args)])


def _table(bare: list[Step], steps: dict[str, list[Step]], args: argparse.Namespace) -> Table:
    mode = "inline" if args.inline else "queued"
    table = Table(
        f"Added p99 by variant, {mode} handler, spread ticks {STREAMS} x {TICK_HZ:.0f}/s, "
        f"{args.rounds} rounds of {args.seconds:.0f} s",
        ["variant", "p50 ms (median)", "p99 ms (median)", "added p99 ms (median of rounds)", "per round"],
    )
    table.rows.append(["bare ib_insync", *_medians(bare), "-", "-"])
    for name, variant in steps.items():
        added = [step.p99 - base.p99 for step, base in zip(variant, bare, strict=True)]
        rounds = " / ".join(f"{a * 1000:+.2f}" for a in added)
        table.rows.append([name, *_medians(variant), ms(statistics.median(added)), rounds])
    return table


def _medians(steps: list[Step]) -> tuple[str, str]:
    """The median over the rounds of the p50 and of the p99, in ms."""
    return ms(statistics.median(s.p(0.5) for s in steps)), ms(statistics.median(s.p99 for s in steps))


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
