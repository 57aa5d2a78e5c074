"""Recovery: a gateway restart with 100 streams, and one crashed StreamActor, until ticks flow again.

Gateway restart: the service streams 100 contracts from a simulator process; the simulator restarts (every
client disconnected, the same port listening again). Measured from the moment it listens again to the
first update of the last of the 100 streams, split into: waiting for the session's reconnect attempt
(its backoff), connecting (the ConnectionActor's start), and the rest (allocator, 100 streams
re-acquiring lines, paced subscriptions, first ticks). The floor is what no client can beat: 100
subscriptions at `ib.pacing_per_s` (45/s by default: 2.2 s); the target is 1.5 x (floor + connect time).

Stream crash: a fault injected into one StreamActor's next message (a `Poke`, told at once) crashes it;
measured from its exit to its restart and to its next update, for `--crashes` different streams, one at a
time.

Default supervision settings throughout (backoff 0.5-30 s with jitter, reset after 60 s of running).

    .venv/bin/python -m bench.recovery [--streams 100] [--tick-hz 10] [--restarts 1] [--crashes 5]
"""

import argparse
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/x.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ib_insync

from bench.common import Report, Table, Target, bench_main, ms, num, percentile, ratio, wait_for
from bench.service import Updates, settings_for, start_service
from bench.simproc import SimProcess
from possync import Service
from possync.actors.names import CONNECTION
from possync.simulator import SimulatorConfig
from possync.supervisors import EventKind, SupervisionEvent

logging.getLogger("ib_insync").setLevel(logging.CRITICAL)  # the gateway restarts on purpose: no "Peer closed"
WAIT_S = 120.0
SETTLE_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--streams", type=int, default=100, help="streaming contracts")
    parser.add_argument("--tick-hz", type=float, default=10.0, help="ticks/s per stream")
    parser.add_argument(
        "--restarts", type=int, default=1, help="gateway restarts, 65 s apart (the backoff's reset time)"
    )
    parser.add_argument("--crashes", type=int, default=5, help="StreamActors crashed, one at a time")


class EventTimes:
    """Supervision events as they happen (the tree's clock is time.monotonic)."""

    def __init__(self, service: Service) -> None:
        self.events: list[SupervisionEvent] = []
        self._lock = threading.Lock()
        service.tree.events.subscribe(self._add)

    def _add(self, event: SupervisionEvent) -> None:
        with self._lock:
            self.events.append(event)

    def first(self, kind: EventKind, child: str, after: float) -> SupervisionEvent | None:
        """The first event of `kind` about `child` at or after `after`."""
        with self._lock:
            return next(
                (e for e in self.events if e.kind is kind and e.child == child and e.at >= after), None
            )


def gateway_restart(sim: SimProcess, conids: list[int], updates: Updates, events: EventTimes) -> dict:
    """Restart the simulator; the phases until every stream ticks again."""
    down = time.monotonic()
    sim.restart()
    back = time.monotonic()
    wait_for(lambda: updates.ticking_since(back, conids), WAIT_S, "every stream ticking after the restart")
    first = updates.first_after(back)
    done = max(first[c] for c in conids)
    attempt = events.first(EventKind.STARTED, CONNECTION, back)
    backoff = events.first(EventKind.BACKOFF, CONNECTION, down)
    failed = [
        e
        for e in events.events
        if e.child == CONNECTION and e.kind is EventKind.START_FAILED and e.at >= down
    ]
    return {
        "total": done - back,
        "connected": (attempt.at if attempt is not None else float("nan")) - back,
        "streams": done - (attempt.at if attempt is not None else float("nan")),
        "backoff": backoff.delay_s if backoff is not None and backoff.delay_s else 0.0,
        "failed": len(failed),
    }


def connect_time(port: int, tries: int = 3) -> float:
    """The median time a bare ib_insync client takes to connect (handshake, accounts, positions)."""
    took = []
    for client_id in range(950, 950 + tries):
        ib = ib_insync.IB()
        started = time.monotonic()
        ib.connect("127.0.0.1", port, client_id, timeout=10, readonly=True)
        took.append(time.monotonic() - started)
        ib.disconnect()
    return percentile(took, 0.5)


def stream_crash(service: Service, conid: int, updates: Updates, events: EventTimes) -> dict:
    """Crash one stream through the fault hook; its exit → restart → next update."""
    name = f"stream-{conid}"
    armed = time.monotonic()
    service.tree.faults.crash_next(name)
    service.tree.poke(name)  # a message for it to crash on, now
    wait_for(lambda: events.first(EventKind.STARTED, name, armed), WAIT_S, f"{name} restarted")
    exited = events.first(EventKind.EXITED, name, armed)
    assert exited is not None
    wait_for(lambda: updates.last.get(conid, 0.0) > exited.at, WAIT_S, f"{name} ticking again")
    started = events.first(EventKind.STARTED, name, armed)
    backoff = events.first(EventKind.BACKOFF, name, exited.at)
    next_tick = min(at for at, c, _ in updates.items if c == conid and at > exited.at)
    return {
        "restart": started.at - exited.at if started else float("nan"),
        "tick": next_tick - exited.at,
        "backoff": backoff.delay_s if backoff is not None and backoff.delay_s else 0.0,
    }


def run(args: argparse.Namespace) -> Report:
    """Start the service on 100 streams, restart the gateway, crash streams; tables and targets."""
    config = SimulatorConfig(positions=args.streams, max_lines=args.streams, tick_hz=args.tick_hz)
    with SimProcess(config) as sim, tempfile.TemporaryDirectory(prefix="bench-recovery-") as directory:
        positions = sim.positions()[: args.streams]
        conids = [p.conid for p in positions]
        settings = settings_for(sim.port, Path(directory), args.streams)
        updates = Updates()
        service, _ = start_service(settings, positions, updates)
        try:
            events = EventTimes(service)
            restarts = []
            for index in range(args.restarts):
                if index:
                    time.sleep(65.0)  # past the backoff's reset_after_s, as between two daily restarts
                time.sleep(SETTLE_S)
                restarts.append(gateway_restart(sim, conids, updates, events))
            connect_s = connect_time(sim.port)
            time.sleep(SETTLE_S)
            crashes = []
            for conid in conids[: args.crashes]:
                crashes.append(stream_crash(service, conid, updates, events))
                time.sleep(0.2)
        finally:
            service.stop()
    return _report(args, settings.ib.pacing_per_s, connect_s, restarts, crashes)


def _report(
    args: argparse.Namespace, pacing: float, connect_s: float, restarts: list[dict], crashes: list[dict]
) -> Report:
    floor = args.streams / pacing
    bound = floor + connect_s
    restart = Table(
        f"Gateway restart → all {args.streams} streams ticking ({args.tick_hz:g} ticks/s each)",
        [
            "run",
            "total s",
            "→ connected s",
            "of which backoff s",
            "failed attempts",
            "connected → all ticking s",
            "floor + connect s",
            "total vs floor + connect",
        ],
    )
    for index, r in enumerate(restarts, 1):
        restart.rows.append(
            [
                index,
                num(r["total"], 2),
                num(r["connected"], 2),
                num(r["backoff"], 2),
                r["failed"],
                num(r["streams"], 2),
                num(bound, 2),
                ratio(r["total"], bound),
            ]
        )
    restart.notes += [
        f"floor: {args.streams} subscriptions at ib.pacing_per_s = {pacing:g}/s = {floor:.2f} s; "
        f"connect: a bare ib_insync connect to the same simulator, median of 3 = {connect_s * 1000:.0f} ms",
        "backoff: the session's restart delay after the disconnect (supervision.backoff_min_s = 0.5 s, "
        "+ up to 20% jitter); it starts at the disconnect, so part of it may pass before the gateway is back",
        f"granularity: a stream counts as ticking at its first update, ≤ 1/{args.tick_hz:g} s after its "
        "first tick",
    ]
    crash = Table(
        "One StreamActor crashed → restarted → next update",
        [
            "streams crashed",
            "exit → restarted p50 ms",
            "max ms",
            "exit → next update p50 ms",
            "max ms",
            "backoff p50 ms",
        ],
    )
    to_tick = [c["tick"] for c in crashes]
    crash.rows.append(
        [
            len(crashes),
            ms(percentile([c["restart"] for c in crashes], 0.5)),
            ms(max(c["restart"] for c in crashes)),
            ms(percentile(to_tick, 0.5)),
            ms(max(to_tick)),
            ms(percentile([c["backoff"] for c in crashes], 0.5)),
        ]
    )
    crash.notes.append(
        "the restart waits for the stream supervisor's backoff (supervision.backoff_min_s = 0.5 s, "
        "jitter ≤ 20%); the rest (lease, line, paced subscribe, first tick) is the remainder"
    )
    worst = max(r["total"] for r in restarts)
    return Report(
        "3. Recovery",
        [restart, crash],
        [
            Target(
                "gateway restart",
                "≤ 1.5x (pacing floor + connect)",
                f"{ratio(worst, bound)} ({worst:.2f} s vs {bound:.2f} s)",
                worst <= 1.5 * bound,
            )
        ],
    )


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
