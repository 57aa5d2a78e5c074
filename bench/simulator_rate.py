"""How fast the simulated gateway streams: N subscriptions x H ticks/s to one ib_insync client.

Prints the configured target, what the client received and what the server sent, as rates and as a
ratio of the target (1.00 = keeping up), plus the pump's worst lateness. Never part of the test run.

    .venv/bin/python bench/simulator_rate.py [--subscriptions 100] [--tick-hz 10] [--seconds 10]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ib_insync

from simulator import Simulator, SimulatorConfig


def measure(subscriptions: int, tick_hz: float, seconds: float) -> None:
    """Subscribe, warm up one second, count for `seconds`, print the table."""
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
        ib.sleep(seconds)
        elapsed = time.monotonic() - started
        received = ib.client.connectionStats().numMsgRecv - received
        stats = sim.stats()
    finally:
        ib.disconnect()
        sim.stop()
    target = subscriptions * tick_hz
    rows = [
        ("target", target, 1.0),
        ("client received", received / elapsed, received / elapsed / target),
        ("server sent", (stats.ticks_sent - sent) / elapsed, (stats.ticks_sent - sent) / elapsed / target),
    ]
    print(f"{subscriptions} subscriptions x {tick_hz:g} ticks/s, {elapsed:.1f} s measured, one client")
    print(f"{'':<16} {'ticks/s':>10} {'ratio':>7}")
    for name, rate, ratio in rows:
        print(f"{name:<16} {rate:>10.1f} {ratio:>7.3f}")
    print(f"pump max lag: {stats.pump_max_lag * 1000:.1f} ms over {stats.pump_cycles} cycles")
    print(f"pacing violations (error 100) while subscribing: {stats.pacing_violations}")


def main() -> None:
    """Parse the flags and measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100, help="streaming subscriptions (lines)")
    parser.add_argument("--tick-hz", type=float, default=10.0, help="ticks/s per subscription")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window after a 1 s warm-up")
    args = parser.parse_args()
    measure(args.subscriptions, args.tick_hz, args.seconds)


if __name__ == "__main__":
    main()
