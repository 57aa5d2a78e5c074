"""The chaos runner: random faults at a steady rate against the service at load, then every invariant.

    python -m tests.faults.chaos --duration 300 --seed 7 --streams 100 --tick-hz 4 --fault-every 3

It starts a simulated gateway and the service (in this process, as `tests.faults.rig.Rig`), activates
`--streams` contracts, and every `--fault-every` seconds (on average; jittered by the seed) injects one
fault drawn from `FAULTS`: a crash, a failed restart or a hang of any actor through the fault hook, a
dropped, restarted or hung gateway, IB connectivity lost and back (1100 then 1101/1102, or never), data
farm flaps, a lower line limit (101 refusals), live permission withdrawn from some active contracts (with
or without delayed data: 10167 or 10168), a competing live session (10197), a read-only lake. Faults
overlap when the service has not recovered before the next one. At the end it lifts every fault, waits for
recovery, stops the service and checks the invariants of `tests.faults.invariants`; it prints a summary
table and exits 0 only if they hold (1 otherwise). The same seed draws the same faults at the same times
(threads decide the rest).
"""

import argparse
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from possync.actors.lake._tables import TABLES
from possync.actors.names import (
    CONNECTION,
    LAKE_WRITER,
    POLLER,
    QUEUE,
    RECONCILER,
    REGISTRY,
    SLOT_ALLOCATOR,
    UPDATES,
    stream_name,
)
from possync.simulator import Simulator, SimulatorConfig
from possync.supervisors import EventKind
from tests.faults import invariants
from tests.faults.rig import Rig

ACTORS = (CONNECTION, SLOT_ALLOCATOR, POLLER, RECONCILER, LAKE_WRITER, REGISTRY, QUEUE, UPDATES, "stream")
RECOVERY_S = 90.0
"""How long the service may take to recover once every fault is lifted at the end."""


@dataclass
class Options:
    """What a chaos run does (the command line's options)."""

    duration_s: float = 20.0
    seed: int = 1
    streams: int = 20
    tick_hz: float = 4.0
    fault_every_s: float = 2.0
    positions: int = 0
    """Positions in the simulated account (0: twice `streams`, at least 40)."""
    workdir: Path | None = None


@dataclass
class Summary:
    """What a chaos run did and found."""

    faults: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    reconnects: int = 0
    recoveries: list[float] = field(default_factory=list)
    unrecovered_at_end: bool = False
    check: invariants.LakeCheck | None = None
    problems: list[str] = field(default_factory=list)
    leaks: int = 0
    refused_101: int = 0

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.problems

    def table(self) -> str:
        """The summary as a two-column table."""
        check = self.check or invariants.LakeCheck(0, 0)
        rows = [(f"faults: {kind}", str(n)) for kind, n in sorted(self.faults.items())]
        rows += [
            ("faults injected", str(sum(self.faults.values()))),
            ("restarts (supervision)", str(self.restarts)),
            ("reconnects", str(self.reconnects)),
            ("101 refusals", str(self.refused_101)),
            ("max recovery time", f"{max(self.recoveries, default=0.0):.2f} s"),
            ("recovered at the end", "no" if self.unrecovered_at_end else "yes"),
            ("rows written (position_updates)", str(check.rows)),
            ("observations acknowledged", str(check.acknowledged)),
            ("duplicates", str(len(check.duplicated))),
            ("losses", str(len(check.lost))),
            ("rows never acknowledged", str(len(check.strays))),
            ("leaks (lines, leases, threads, actors)", str(self.leaks)),
            ("invariants", "hold" if self.ok else "VIOLATED"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'what':<{width}} | {'value':>10} |", f"|{'-' * (width + 2)}|{'-' * 12}|"]
        lines += [f"| {name:<{width}} | {value:>10} |" for name, value in rows]
        return "\n".join(lines + [f"- {p}" for p in self.problems])


class Chaos:
    """One chaos run (see the module docstring): `run()` returns its `Summary`."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.summary = Summary()
        self._lifts: list[tuple[float, Callable[[], None]]] = []  # (when, how) a lasting fault ends
        self._immutable: list[Path] = []
        self._max_lines = 0
        self._faults: list[tuple[str, Callable[[Rig], None]]] = [
            *((f"crash {a}", self._crash(a)) for a in ACTORS),
            *((f"failed restart {a}", self._failed_restart(a)) for a in ACTORS),
            *((f"hang {a}", self._hang(a)) for a in ACTORS),
            ("gateway drop", lambda rig: rig.sim.drop_all()),
            ("gateway restart", lambda rig: rig.sim.restart()),
            ("gateway hung", self._gateway_hung),
            ("1100 then 1101", self._lost_then(1101)),
            ("1100 then 1102", self._lost_then(1102)),
            ("1100 past the grace period", lambda rig: rig.sim.send_error(1100)),
            ("farm flaps 2103/2104", self._farm_flaps),
            ("line limit lowered (101)", self._fewer_lines),
            ("live permission withdrawn, delayed kept", self._entitlements(delayed=True)),
            ("live and delayed permission withdrawn (10168)", self._entitlements(delayed=False)),
            ("competing live session (10197)", self._competing_session),
        ]
        if shutil.which("chattr"):
            self._faults.append(("lake read-only", self._read_only_lake))

    # --- the run ---

    def run(self) -> Summary:
        """Start, inject faults for `duration_s`, lift them, recover, stop, check."""
        o = self.options
        positions = o.positions or max(40, 2 * o.streams)
        self._max_lines = max(100, o.streams)
        sim = Simulator(
            SimulatorConfig(positions=positions, tick_hz=o.tick_hz, max_lines=self._max_lines, seed=o.seed)
        )
        sim.start()
        workdir = o.workdir or Path(tempfile.mkdtemp(prefix="possync-chaos-"))
        try:
            overrides = {
                "slots": {"budget": o.streams, "regrow_s": 0.2},
                "ib": {"pacing_per_s": 45.0},
                "streams": {"refused_retry_s": 1.0, "competing_retry_s": 0.2, "competing_retry_max_s": 1.0},
            }
            rig = Rig.start(sim, workdir, active=o.streams, **overrides)
            try:
                self._inject_for(rig, o.duration_s)
                self._recover(rig)
            finally:
                self._lift_all(rig)
                self._finish(rig)
        finally:
            sim.stop()
            if o.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
        return self.summary

    def _inject_for(self, rig: Rig, duration_s: float) -> None:
        ends = time.monotonic() + duration_s
        next_fault = time.monotonic() + self._interval()
        broken_since: float | None = None
        while (now := time.monotonic()) < ends:
            self._lift_due(rig, now)
            if now >= next_fault:
                kind, inject = self.rng.choice(self._faults)
                logger.info("chaos: {}", kind)
                self.summary.faults[kind] += 1
                inject(rig)
                broken_since = broken_since or time.monotonic()
                next_fault = time.monotonic() + self._interval()
            elif broken_since is not None and not self._lifts and rig.settled(self._expected(rig)):
                self.summary.recoveries.append(time.monotonic() - broken_since)
                broken_since = None
            time.sleep(0.1)

    def _recover(self, rig: Rig) -> None:
        """Lift every fault and wait until the service is back (the recovery time counts from now)."""
        started = time.monotonic()
        self._lift_all(rig)
        deadline = started + RECOVERY_S
        while time.monotonic() < deadline:
            if rig.settled(self._expected(rig)):
                self.summary.recoveries.append(time.monotonic() - started)
                return
            time.sleep(0.1)
        self.summary.unrecovered_at_end = True
        self.summary.problems.append(f"not recovered {RECOVERY_S}s after the last fault: {rig.problems()}")

    def _expected(self, rig: Rig) -> set[int]:
        """The contracts that should stream now: every active one, up to the effective budget."""
        found = rig.lines()
        if found is None or found.effective >= len(rig.active):
            return rig.active
        return set(found.streaming) if len(found.streaming) == found.effective else rig.active

    def _finish(self, rig: Rig) -> None:
        s = self.summary
        with rig._lock:
            events = list(rig.events)
        s.problems += invariants.restarts_explained(events) + invariants.gateway_clean(rig.sim)
        if not s.unrecovered_at_end:
            s.problems += invariants.lines_agree(rig.lines(), rig.active)
        if not rig.service.running:
            s.problems.append(f"the service gave up: {rig.service.tree.failure}")
        status = rig.service.status()
        s.restarts = sum(1 for e in events if e.kind is EventKind.RESTARTING)
        s.reconnects = status.connection.reconnects
        s.refused_101 = rig.sim.stats().refused_101
        rig.service.stop()
        deadline = time.monotonic() + 10
        while rig.leftovers.now() and time.monotonic() < deadline:
            time.sleep(0.05)
        leftovers = rig.leftovers.now()
        lines_left = rig.sim.stats().subscriptions
        s.leaks = len(leftovers) + lines_left
        if leftovers or lines_left:
            s.problems.append(f"left after stop: {leftovers}, {lines_left} lines at the gateway")
            s.problems += stacks_of_new_threads(rig.leftovers)
        s.check = invariants.exactly_once(rig.acknowledged.counts(), invariants.lake_identities(rig.root))
        s.problems += s.check.problems()
        if not s.check.acknowledged:
            s.problems.append("no observation was acknowledged")

    # --- faults ---

    def _interval(self) -> float:
        return self.rng.uniform(0.5, 1.5) * self.options.fault_every_s

    def _target(self, rig: Rig, actor: str) -> str:
        return stream_name(self.rng.choice(sorted(rig.active))) if actor == "stream" else actor

    def _crash(self, actor: str) -> Callable[[Rig], None]:
        def inject(rig: Rig) -> None:
            name = self._target(rig, actor)
            rig.service.tree.faults.crash_next(name)
            rig.service.tree.poke(name)

        return inject

    def _failed_restart(self, actor: str) -> Callable[[Rig], None]:
        def inject(rig: Rig) -> None:
            name = self._target(rig, actor)
            rig.service.tree.faults.fail_start(name, times=self.rng.randint(1, 2))
            rig.service.tree.faults.crash_next(name)
            rig.service.tree.poke(name)

        return inject

    def _hang(self, actor: str) -> Callable[[Rig], None]:
        def inject(rig: Rig) -> None:
            name = self._target(rig, actor)
            rig.service.tree.faults.hang(name, seconds=self.rng.uniform(0.5, 3.0))
            rig.service.tree.poke(name)

        return inject

    def _later(self, seconds: float, lift: Callable[[], None]) -> None:
        self._lifts.append((time.monotonic() + seconds, lift))

    def _gateway_hung(self, rig: Rig) -> None:
        rig.sim.pause()
        self._later(self.rng.uniform(1.0, 4.0), rig.sim.resume)

    def _lost_then(self, code: int) -> Callable[[Rig], None]:
        def inject(rig: Rig) -> None:
            rig.sim.send_error(1100)
            self._later(self.rng.uniform(0.1, 1.0), lambda: rig.sim.send_error(code))

        return inject

    def _farm_flaps(self, rig: Rig) -> None:
        for _ in range(self.rng.randint(1, 5)):
            rig.sim.send_error(2103)
            rig.sim.send_error(2104)

    def _fewer_lines(self, rig: Rig) -> None:
        rig.sim.set_max_lines(self.rng.randint(len(rig.active) // 2, len(rig.active)))
        self._later(self.rng.uniform(1.0, 5.0), lambda: rig.sim.set_max_lines(self._max_lines))

    def _entitlements(self, delayed: bool) -> Callable[[Rig], None]:
        """Withdraw live permission (and delayed data unless `delayed`) from some active contracts, for later
        requests; given back after a while."""

        def inject(rig: Rig) -> None:
            conids = self.rng.sample(sorted(rig.active), self.rng.randint(1, max(1, len(rig.active) // 2)))
            rig.sim.set_entitlements(conids, live=False, delayed=delayed)
            self._later(self.rng.uniform(1.0, 4.0), lambda: self._entitle(rig))

        return inject

    def _entitle(self, rig: Rig) -> None:
        rig.sim.set_entitlements(sorted(rig.active), live=True, delayed=True)

    def _competing_session(self, rig: Rig) -> None:
        rig.sim.set_competing_session(True)
        self._later(self.rng.uniform(1.0, 4.0), lambda: rig.sim.set_competing_session(False))

    def _read_only_lake(self, rig: Rig) -> None:
        if self._immutable:
            return
        tables = [rig.root / table.name for table in TABLES]
        self._immutable = [*tables, *(t / "_delta_log" for t in tables)]
        for path in self._immutable:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        self._later(self.rng.uniform(1.0, 4.0), self._writable_lake)

    def _writable_lake(self) -> None:
        for path in reversed(self._immutable):
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
        self._immutable = []

    def _lift_due(self, rig: Rig, now: float) -> None:
        due = [lift for when, lift in self._lifts if when <= now]
        self._lifts = [(when, lift) for when, lift in self._lifts if when > now]
        for lift in due:
            lift()

    def _lift_all(self, rig: Rig) -> None:
        self._lift_due(rig, float("inf"))
        rig.service.tree.faults.clear()
        rig.sim.resume()
        rig.sim.set_max_lines(self._max_lines)
        self._entitle(rig)
        rig.sim.set_competing_session(False)
        self._writable_lake()


def stacks_of_new_threads(leftovers: invariants.Leftovers) -> list[str]:
    """Where each thread left after stop is (to find why it did not end)."""
    frames = sys._current_frames()
    names = {name.removeprefix("thread ") for name in leftovers.now()}
    return [
        f"stack of {t.name}:\n{''.join(traceback.format_stack(frames[t.ident], limit=15))}"
        for t in threading.enumerate()
        if t.name in names and t.ident in frames
    ]


def parse_args(argv: list[str] | None = None) -> Options:
    """The options of the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.chaos",
        description="Random faults against possync and a simulated gateway at load; then every invariant.",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of faults (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="draws the faults and their times (default 1)")
    parser.add_argument("--streams", type=int, default=20, help="active contracts streaming (default 20)")
    parser.add_argument("--tick-hz", type=float, default=4.0, help="ticks/s per stream (default 4)")
    parser.add_argument("--fault-every", type=float, default=2.0, help="mean seconds between faults")
    parser.add_argument("--positions", type=int, default=0, help="positions (default: 2 x streams, >= 40)")
    parser.add_argument("--workdir", type=Path, help="keep the lake and state here (default: a temp dir)")
    parser.add_argument("--log-level", default="WARNING", help="possync's log level (default WARNING)")
    args = parser.parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level=args.log_level.upper())
    for name in ("possync", "tests"):
        logger.enable(name)
    logging.getLogger("ib_insync").setLevel(logging.CRITICAL)  # its own log of every fault we inject
    return Options(
        args.duration, args.seed, args.streams, args.tick_hz, args.fault_every, args.positions, args.workdir
    )


def main(argv: list[str] | None = None) -> int:
    """Run chaos as the command line says; 0 when every invariant held."""
    options = parse_args(argv)
    started = time.monotonic()
    summary = Chaos(options).run()
    took = time.monotonic() - started
    print(
        f"chaos: seed {options.seed}, {options.duration_s:g} s of faults every ~{options.fault_every_s:g} s, "
        f"{options.streams} streams x {options.tick_hz:g} ticks/s; {took:.0f} s in all"
    )
    print(summary.table())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
