"""Tick path: from the simulator writing a tick to possync's `on_update` handler, vs a bare ib_insync client.

One simulator process (100 streams by default) serves, one after the other, two receivers of the same
ticks, both stamping receipt with `time.monotonic()` (the simulator stamps the send with the same clock):
- bare ib_insync (the ceiling): a hand-written script on its own thread and loop, 100 `reqMktData`, a
  `pendingTickersEvent` handler reporting each change of a contract's market price;
- possync: the whole service (`possync.Service`, lake writer included), 100 activated contracts, an
  `on_update` handler (the stream feeds report each change of market price the same way), run twice:
  queued (the default: the handler runs in the update dispatcher's thread) and inline
  (`on_update(..., inline=True)`: the handler runs in the network thread right after the read, as the
  bare client's does).
How an update is paired with the tick that caused it is in `bench/ticks.py`.

For each receiver the simulator's rate is raised step by step (`--rates`, ticks/s per stream). A step is
stable when no backlog grows: the median latency of the window's last third exceeds the first third's by
at most 5 ms, the median stays under 50 ms, and (possync) the deepest inbox among the connection, the
lake writer and the streams grows by at most 1,000 messages over the window. The sustained rate is the
highest stable step's measured send rate (`--full`: finer steps, longer windows).

Latency targets use the first step (10 ticks/s per stream, `--latency-seconds` split in 3 windows; the
p99 is the median of the windows' p99), under two tick patterns:
- burst (the simulator's default, and the rate steps'): every stream's tick in one write per cycle, so
  100 updates arrive at once and queue behind each other — the worst case for any receiver;
- spread: the simulator's `tick_slots` = streams, each stream ticking at its own phase of the cycle,
  one tick per write, as independent instruments' ticks arrive from a real feed.

    .venv/bin/python -m bench.tick_path [--streams 100] [--rates 10,100,200,400,1000] [--seconds 3]
        [--latency-seconds 6] [--full]
"""

import argparse
import asyncio
import concurrent.futures
import math
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/x.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ib_insync
import msgspec

from bench.common import Report, bench_main, percentile, wait_for
from bench.service import Updates, settings_for, start_service
from bench.simproc import SimProcess
from bench.tick_report import LATENCY_WINDOWS, report
from bench.ticks import change_points, latencies
from possync.actors.names import CONNECTION, LAKE_WRITER
from possync.simulator import SimulatorConfig

SETTLE_S = 0.5
"""After a rate change, before the window (records taken then prime the replay of the client's quotes)."""
DRAIN_S = 0.3
"""After the window, for updates of ticks sent in it to arrive."""
GROWTH_LIMIT_S = 0.005
LAG_LIMIT_S = 0.050
INBOX_GROWTH_LIMIT = 1000
FULL_RATES = "10,25,50,100,150,200,300,400,600,800,1000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--streams", type=int, default=100, help="streaming contracts (lines)")
    parser.add_argument("--rates", default="10,100,200,400,1000", help="ticks/s per stream, one step each")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring window per step")
    parser.add_argument("--latency-seconds", type=float, default=6.0, help="window of the first step")
    parser.add_argument("--full", action="store_true", help=f"rates {FULL_RATES}, 10 s per step, 30 s first")
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=0.0,
        help="sys.setswitchinterval for this process (the receivers' threads); 0: Python's default (5 ms)",
    )


@dataclass
class Step:
    """One receiver at one rate."""

    tick_hz: float
    sent_per_s: float
    updates_per_s: float
    latencies: list[float]
    growth_s: float
    unmatched: int
    inbox: int
    inbox_growth: int
    deepest: str = ""
    window_p99s: list[float] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        """No growing backlog (module docstring)."""
        lag_ok = bool(self.latencies) and self.growth_s <= GROWTH_LIMIT_S and self.p(0.5) <= LAG_LIMIT_S
        return lag_ok and self.inbox_growth <= INBOX_GROWTH_LIMIT

    def p(self, q: float) -> float:
        """The `q` quantile of the latencies."""
        return percentile(self.latencies, q)

    @property
    def p99(self) -> float:
        """The median of the windows' p99 (one stall of the shared machine spoils one window, not all);
        the p99 of all latencies for a step of one window."""
        return statistics.median(self.window_p99s) if self.window_p99s else self.p(0.99)


class BareClient:
    """A hand-written ib_insync script (the ceiling): its own thread and event loop, one reqMktData per
    conid, and a pendingTickersEvent handler reporting each change of a contract's market price."""

    def __init__(self, port: int, conids: list[int], client_id: int = 900) -> None:
        self.updates = Updates()
        self._prices: dict[int, float] = {}
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(port, conids, client_id, ready), name="bare-ib", daemon=True
        )
        self._thread.start()
        ready.result(timeout=30)

    def _run(self, port: int, conids: list[int], client_id: int, ready: concurrent.futures.Future) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.ib = ib_insync.IB()
            self._loop.run_until_complete(
                self.ib.connectAsync("127.0.0.1", port, client_id, timeout=10, readonly=True)
            )
            self.ib.pendingTickersEvent += self._on_tickers
            for conid in conids:
                self.ib.reqMktData(ib_insync.Contract(conId=conid, exchange="SMART"))
        except BaseException as error:
            ready.set_exception(error)
            return
        ready.set_result(None)
        self._loop.run_forever()
        self._loop.close()

    def _on_tickers(self, tickers: set[ib_insync.Ticker]) -> None:
        for ticker in tickers:
            price = ticker.marketPrice()
            conid = ticker.contract.conId
            if not math.isnan(price) and price != self._prices.get(conid):
                self._prices[conid] = price
                now = time.monotonic()
                self.updates.last[conid] = now
                self.updates.items.append((now, conid, price))

    def close(self) -> None:
        """Disconnect and end the thread."""

        def stop() -> None:
            self.ib.disconnect()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)


def measure_step(
    sim: SimProcess,
    updates: Updates,
    tick_hz: float,
    seconds: float,
    inbox: Callable[[], tuple[int, str]],
) -> Step:
    """Run the simulator at `tick_hz` per stream for a window and judge the receiver's lag.

    Updates are paired from the start of recording (so each contract's pairing is aligned before the
    window); only the window's pairs count.
    """
    sim.set_tick_hz(tick_hz)
    recording, first = time.monotonic(), len(updates.items)
    sim.record(True)
    time.sleep(SETTLE_S)
    started, (depth_before, _) = time.monotonic(), inbox()
    time.sleep(seconds)
    ended, (depth, deepest) = time.monotonic(), inbox()
    time.sleep(DRAIN_S)
    sim.record(False)
    records = sim.take_records()
    received = [u for u in updates.items[first:] if recording <= u[0] <= ended + DRAIN_S]
    pairs = [p for p in latencies(change_points(records), received).pairs if p[0] >= started]
    in_window = [lat for at, lat in pairs if at <= ended]
    third = max(1, len(in_window) // 3)
    growth = percentile(in_window[-third:], 0.5) - percentile(in_window[:third], 0.5)
    sent = sum(1 for record in records if started <= record[0] < ended)
    counted = sum(1 for u in received if started <= u[0] <= ended)
    unpaired = counted - len(in_window)
    return Step(
        tick_hz,
        sent / (ended - started),
        counted / (ended - started),
        [lat for _, lat in pairs],
        growth,
        unpaired,
        depth,
        depth - depth_before,
        deepest,
    )


def measure_latency(
    sim: SimProcess, updates: Updates, tick_hz: float, seconds: float, inbox: Callable[[], tuple[int, str]]
) -> Step:
    """The latency step: `LATENCY_WINDOWS` windows of `seconds / LATENCY_WINDOWS`, merged."""
    parts = [
        measure_step(sim, updates, tick_hz, seconds / LATENCY_WINDOWS, inbox) for _ in range(LATENCY_WINDOWS)
    ]
    return Step(
        tick_hz,
        statistics.mean(part.sent_per_s for part in parts),
        statistics.mean(part.updates_per_s for part in parts),
        [latency for part in parts for latency in part.latencies],
        max(part.growth_s for part in parts),
        sum(part.unmatched for part in parts),
        parts[-1].inbox,
        sum(part.inbox_growth for part in parts),
        parts[-1].deepest,
        [part.p(0.99) for part in parts],
    )


def measure_steps(
    sim: SimProcess,
    updates: Updates,
    rates: list[float],
    seconds: list[float],
    inbox: Callable[[], tuple[int, str]],
    stop_unstable: bool,
) -> list[Step]:
    """The latency step at the first rate, then one step per further rate (until unstable, if asked)."""
    steps = [measure_latency(sim, updates, rates[0], seconds[0], inbox)]
    for hz, window in zip(rates[1:], seconds[1:], strict=True):
        if stop_unstable and not steps[-1].stable:
            break  # past its sustained rate: higher steps only pile up more backlog
        steps.append(measure_step(sim, updates, hz, window, inbox))
    return steps


def bare_steps(sim: SimProcess, conids: list[int], rates: list[float], seconds: list[float]) -> list[Step]:
    """The ceiling's steps."""
    client = BareClient(sim.port, conids)
    try:
        wait_for(lambda: client.updates.ticking_since(0, conids), 30, "bare client ticking")
        return measure_steps(sim, client.updates, rates, seconds, lambda: (0, ""), stop_unstable=False)
    finally:
        client.close()
        wait_for(lambda: sim.stats().subscriptions == 0, 10, "bare client's lines freed")


def possync_steps(
    sim: SimProcess, rates: list[float], streams: int, seconds: list[float], inline: bool = False
) -> list[Step]:
    """possync's steps, up to the first unstable one; `inbox`: the deepest actor inbox on the tick path.
    `inline`: the handler is an inline one (network thread), else queued (update dispatcher)."""
    positions = sim.positions()[:streams]
    updates = Updates()
    with tempfile.TemporaryDirectory(prefix="bench-ticks-") as directory:
        # every change a row: the path is measured, not the row-rate bound (streams.min_row_interval_s)
        settings = settings_for(sim.port, Path(directory), streams)
        every_change = msgspec.structs.replace(settings.streams, min_row_interval_s=0.0)
        settings = msgspec.structs.replace(settings, streams=every_change)
        service, _ = start_service(settings, positions, updates, inline=inline)
        try:
            names = [CONNECTION, LAKE_WRITER] + [f"stream-{p.conid}" for p in positions]

            def deepest() -> tuple[int, str]:
                refs = {name: service.tree.whereis(name) for name in names}
                depths = [(ref.actor_inbox.qsize(), name) for name, ref in refs.items() if ref is not None]
                return max(depths)

            return measure_steps(sim, updates, rates, seconds, deepest, stop_unstable=True)
        finally:
            service.stop()


def run(args: argparse.Namespace) -> Report:
    """Both receivers through every step (burst), then the first step again with spread ticks."""
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    rates = [float(r) for r in (FULL_RATES if args.full else args.rates).split(",")]
    window = 10.0 if args.full else args.seconds
    seconds = [30.0 if args.full else args.latency_seconds] + [window] * (len(rates) - 1)
    results = {}
    for pattern, slots, pattern_rates in (("burst", 1, rates), ("spread", args.streams, rates[:1])):
        config = SimulatorConfig(
            positions=args.streams, max_lines=args.streams, tick_hz=rates[0], tick_slots=slots
        )
        with SimProcess(config) as sim:
            conids = [p.conid for p in sim.positions()[: args.streams]]
            bare = bare_steps(sim, conids, pattern_rates, seconds[: len(pattern_rates)])
            runs = [bare]
            for inline in (False, True):
                sim.set_tick_hz(rates[0])
                runs.append(
                    possync_steps(sim, pattern_rates, args.streams, seconds[: len(pattern_rates)], inline)
                )
        results[pattern] = tuple(runs)
    return report(args.streams, seconds[0], results)


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
