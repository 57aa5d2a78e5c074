"""Soak: the whole service for hours against a simulated gateway that keeps misbehaving, sampled every
`--sample-s`: memory, threads, lines held (ours and the gateway's), rows written, restarts, health.

Every `--fault-every` seconds one fault, in turn: 1101 (data lost), 1100 then 1102, a dropped connection,
a full gateway restart, a line limit that shrinks and grows back, a position change. At the end it checks
what must hold after any fault: the gateway holds exactly the lines the service says it holds, every
active contract streams again, and memory and threads stayed flat (the last quarter of the samples
against the second quarter). (Lost and duplicated rows are the fault suite's invariants: tests/faults.)

    .venv/bin/python -m bench.soak [--duration 7200] [--positions 300] [--streams 30] [--fault-every 60]
"""

import argparse
import itertools
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/soak.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import rss_mib, wait_for
from bench.service import register, settings_for
from possync import Service
from possync.simulator import Simulator, SimulatorConfig


def _faults(sim: Simulator, positions: list) -> list[tuple[str, Callable[[], object]]]:
    """The faults, in the order they are injected."""
    moved = itertools.count(1)

    def lines_shrink() -> None:
        sim.set_max_lines(10)
        time.sleep(5)
        sim.set_max_lines(100)

    def flap() -> None:
        sim.send_error(1100)
        time.sleep(2)
        sim.send_error(1102)

    return [
        ("1101", lambda: sim.send_error(1101)),
        ("1100+1102", flap),
        ("drop", sim.drop_all),
        ("restart", sim.restart),
        ("101s", lines_shrink),
        ("position", lambda: sim.set_position(positions[0].conid, positions[0].position + next(moved))),
    ]


def _sample(service: Service, sim: Simulator, started: float) -> dict[str, float]:
    status = service.status()
    return {
        "t_s": time.monotonic() - started,
        "rss_mib": rss_mib(),
        "threads": threading.active_count(),
        "lines": status.slots.in_use,
        "gateway_lines": sim.stats().subscriptions,
        "rows": status.lake.rows_written,
        "restarts": status.supervision.restarts,
        "degraded": len(status.degraded),
    }


def _flat(samples: list[dict[str, float]], key: str) -> str:
    quarter = max(1, len(samples) // 4)
    early = max(s[key] for s in samples[quarter : 2 * quarter] or samples)
    late = max(s[key] for s in samples[-quarter:])
    return f"{key}: {early:.1f} -> {late:.1f}" + (" (grew)" if late > early * 1.2 + 1 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=7200.0)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--fault-every", type=float, default=60.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    sim = Simulator(SimulatorConfig(positions=args.positions, max_lines=100, tick_hz=2.0))
    sim.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(sim.port, Path(tmp), args.streams)
        positions = [p for p in sim.positions() if p.position]
        register(settings, positions[: args.streams])
        problems = _run(Service(settings), sim, positions, args)
    sim.stop()
    print("\n".join(problems) or "every invariant held")
    return 1 if problems else 0


def _run(service: Service, sim: Simulator, positions: list, args: argparse.Namespace) -> list[str]:
    samples: list[dict[str, float]] = []
    faults = itertools.cycle(_faults(sim, positions))
    started = next_fault = next_sample = time.monotonic()
    with service:
        while (now := time.monotonic()) - started < args.duration:
            if now >= next_fault:
                name, inject = next(faults)
                print(f"{now - started:8.0f}s fault {name}", flush=True)
                inject()
                next_fault = now + args.fault_every
            if now >= next_sample:
                samples.append(_sample(service, sim, started))
                print("  ".join(f"{k}={v:.0f}" for k, v in samples[-1].items()), flush=True)
                next_sample = now + args.sample_s
            time.sleep(0.2)
        return _check(service, sim, positions, args, samples)


def _check(
    service: Service, sim: Simulator, positions: list, args: argparse.Namespace, samples: list
) -> list[str]:
    problems: list[str] = []
    try:
        wait_for(
            lambda: sum(s.state == "streaming" for s in service.status().streams) == args.streams,
            120,
            "streams",
        )
    except Exception as error:
        problems.append(f"not every active contract streams again: {error}")
    if service.status().slots.in_use != sim.stats().subscriptions:
        problems.append(
            f"lines: service {service.status().slots.in_use}, gateway {sim.stats().subscriptions}"
        )
    print(_flat(samples, "rss_mib"), _flat(samples, "threads"), sep="\n")
    problems += [line for line in (_flat(samples, "rss_mib"), _flat(samples, "threads")) if "grew" in line]
    return problems


if __name__ == "__main__":
    sys.exit(main())
