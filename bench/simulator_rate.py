"""How fast the simulated gateway streams: N subscriptions x H ticks/s to one ib_insync client.

Prints the configured target, what the client received and what the server sent, as rates and as a
ratio of the target (1.00 = keeping up), plus the pump's worst lateness. The simulator runs in-process
(its own thread), as in the tests. Never part of the test run.

    .venv/bin/python -m bench.simulator_rate [--subscriptions 100] [--tick-hz 10] [--seconds 10]
"""

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/simulator_rate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ib_insync

from bench.common import Report, Table, bench_main, num
from possync.simulator import Simulator, SimulatorConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--subscriptions", type=int, default=100, help="streaming subscriptions (lines)")
    parser.add_argument("--tick-hz", type=float, default=10.0, help="ticks/s per subscription")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window after a 1 s warm-up")


def run(args: argparse.Namespace) -> Report:
    """Subscribe, warm up one second, count for `--seconds`; the table."""
    subscriptions, tick_hz = args.subscriptions, args.tick_hz
    sim = Simulator(SimulatorConfig(positions=subscriptions, max_lines=subscriptions, tick_hz=tick_hz))
    sim.start()
    ib = ib_insync.IB()
    try:
        ib.connect("127.0.0.1", sim.port, clientId=1, readonly=True, timeout=10)
        for position in ib.positions()[:subscriptions]:
            ib.reqMktData(ib_insync.Contract(conId=position.contract.conId, exchange="SMART"))
        while sim.stats().subscriptions < subscriptions:
            ib.sleep(0.1)
        ib.sleep(1.0)
        received, sent, started = (
            ib.client.connectionStats().numMsgRecv,
            sim.stats().ticks_sent,
            time.monotonic(),
        )
        ib.sleep(args.seconds)
        elapsed = time.monotonic() - started
        received = ib.client.connectionStats().numMsgRecv - received
        stats = sim.stats()
    finally:
        ib.disconnect()
        sim.stop()
    target = subscriptions * tick_hz
    table = Table(
        f"Simulator: {subscriptions} subscriptions x {tick_hz:g} ticks/s, {elapsed:.1f} s, one client",
        ["", "ticks/s", "ratio"],
    )
    for name, count in (("client received", received), ("server sent", stats.ticks_sent - sent)):
        table.rows.append([name, num(count / elapsed, 1), f"{count / elapsed / target:.3f}"])
    table.rows.insert(0, ["target", num(target, 1), "1.000"])
    table.notes += [
        f"pump max lag: {stats.pump_max_lag * 1000:.1f} ms over {stats.pump_cycles} cycles",
        f"pacing violations (error 100) while subscribing: {stats.pacing_violations}",
    ]
    return Report("Simulator rate", [table])


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
