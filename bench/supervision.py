"""Supervision overhead: messages/s and ask round trips through a supervised actor against plain pykka, and
how long a crashed child takes to be running again.

Three actors with the same trivial `on_receive` (count, answer asks): a plain `pykka.ThreadingActor`
(baseline), a standalone `SupervisedActor` (the base class: exit notices, BaseException handling), and a
`SupervisedActor` in a `SupervisionTree` (plus the per-message fault hook). Throughput: the actor is held
(a gate message), `--messages` msgspec messages are queued, the gate opens, and the rate is messages /
time until an ask behind them is answered: the actor's own per-message cost, not the sender's. Round
trip: `--asks` sequential asks. Best of `--repeats` for throughput (interleaved; the machine is shared).

Restart: a child of a one_for_one supervisor is crashed by the fault hook on its next message; measured
from the tell to the new incarnation's STARTED event, with no backoff (the supervision library's own cost)
and with the default backoff (0.5 s min, up to 20% jitter: what the service's supervisors wait).

    .venv/bin/python -m bench.supervision [--messages 50000] [--asks 2000] [--repeats 3] [--restarts 20]
"""

import argparse
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: `python bench/x.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
import pykka

from bench.common import Report, Table, Target, bench_main, ms, num, percentile, ratio, us
from possync.supervisors import (
    Backoff,
    ChildSpec,
    EventKind,
    SupervisedActor,
    SupervisionEvent,
    SupervisionTree,
    SupervisorSpec,
)


class Work(msgspec.Struct, frozen=True):
    """The benchmark's message."""

    n: int


class Count(msgspec.Struct, frozen=True):
    """Ask: how many Work messages so far."""


class Gate(msgspec.Struct, frozen=True):
    """Hold the actor until `opened` is set (so its inbox fills before the timing starts)."""

    opened: threading.Event


class Counting:
    """The benchmarked behaviour: count Work, answer Count, hold on a Gate."""

    count = 0

    def on_receive(self, message: Any) -> Any:
        """Count or answer."""
        match message:
            case Work():
                self.count += 1
            case Count():
                return self.count
            case Gate(opened=opened):
                opened.wait(60)
        return None


class PlainCounter(Counting, pykka.ThreadingActor):
    """A plain pykka actor (the baseline)."""

    use_daemon_thread = True

    def __init__(self, *_: Any) -> None:
        super().__init__()


class SupervisedCounter(Counting, SupervisedActor):
    """The same actor on the supervision base class."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--messages", type=int, default=50_000, help="tells per throughput run")
    parser.add_argument("--asks", type=int, default=2_000, help="sequential asks")
    parser.add_argument("--repeats", type=int, default=3, help="throughput runs per actor (best counts)")
    parser.add_argument("--restarts", type=int, default=20, help="crashes per restart measurement")


def throughput(ref: pykka.ActorRef[Any], messages: int) -> float:
    """Messages/s the actor takes from its inbox: hold it, fill the inbox, release it, time the drain."""
    opened = threading.Event()
    ref.tell(Gate(opened))
    work = Work(1)
    for _ in range(messages):
        ref.tell(work)
    started = time.perf_counter()
    opened.set()
    ref.ask(Count(), timeout=60)
    return messages / (time.perf_counter() - started)


def round_trips(ref: pykka.ActorRef[Any], asks: int) -> list[float]:
    """Seconds per ask, `asks` in a row."""
    took = []
    for _ in range(asks):
        started = time.perf_counter()
        ref.ask(Count(), timeout=10)
        took.append(time.perf_counter() - started)
    return took


def measure(kinds: dict[str, tuple[Callable[[], pykka.ActorRef[Any]], Callable[[], None]]], args) -> dict:
    """Throughput (best of the repeats, kinds interleaved so load changes hit all alike) and round trips."""
    refs = {name: start() for name, (start, _) in kinds.items()}
    try:
        for ref in refs.values():
            round_trips(ref, 200)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in refs}
        for _ in range(args.repeats):
            for name, ref in refs.items():
                rates[name].append(throughput(ref, args.messages))
        asks: dict[str, list[float]] = {name: [] for name in refs}
        for _ in range(args.asks):  # interleaved too, one ask each in turn
            for name, ref in refs.items():
                asks[name] += round_trips(ref, 1)
        results = {}
        for name in refs:
            results[name] = {
                "rate": max(rates[name]),
                "p50": percentile(asks[name], 0.5),
                "p99": percentile(asks[name], 0.99),
            }
    finally:
        for _, stop in kinds.values():
            stop()
    return results


def standalone(
    actor_class: type[pykka.ThreadingActor],
) -> tuple[Callable[[], pykka.ActorRef[Any]], Callable[[], None]]:
    """Start/stop of one actor of `actor_class` outside any tree."""
    refs: list[pykka.ActorRef[Any]] = []

    def start() -> pykka.ActorRef[Any]:
        refs.append(actor_class.start())
        return refs[-1]

    return start, lambda: refs[-1].stop()


def in_tree() -> tuple[Callable[[], pykka.ActorRef[Any]], Callable[[], None]]:
    """Start/stop of a SupervisedCounter as the child of a one_for_one supervisor."""
    tree = SupervisionTree(SupervisorSpec("bench", children=(ChildSpec("counter", SupervisedCounter),)))

    def start() -> pykka.ActorRef[Any]:
        tree.start()
        return tree.whereis("counter")

    return start, tree.stop


def restart_latency(backoff: Backoff | None, restarts: int) -> list[float]:
    """Seconds from the crashing tell to the next incarnation's STARTED, for `restarts` first restarts
    (a fresh tree each time, so a backoff is at its minimum as after a long healthy run)."""
    took: list[float] = []
    for _ in range(restarts):
        spec = SupervisorSpec("bench", children=(ChildSpec("worker", SupervisedCounter),), backoff=backoff)
        started = threading.Event()
        at: list[float] = []

        def on_event(
            event: SupervisionEvent, at: list[float] = at, started: threading.Event = started
        ) -> None:
            if event.kind is EventKind.STARTED and event.child == "worker" and event.incarnation == 2:
                at.append(event.at)
                started.set()

        with SupervisionTree(spec) as tree:
            tree.events.subscribe(on_event)
            tree.faults.crash_next("worker")
            crashed = time.monotonic()
            tree.whereis("worker").tell(Work(0))
            if not started.wait(30):
                raise TimeoutError("benchmark: the worker was not restarted within 30 s")
            took.append(at[0] - crashed)
    return took


def run(args: argparse.Namespace) -> Report:
    """Measure the three actors and the restarts; tables and targets."""
    results = measure(
        {
            "plain": standalone(PlainCounter),
            "alone": standalone(SupervisedCounter),
            "tree": in_tree(),
        },
        args,
    )
    plain, alone, supervised = results["plain"], results["alone"], results["tree"]
    table = Table(
        "Messages through one actor",
        ["actor", "messages/s", "vs plain", "ask p50 µs", "ask p99 µs", "ask p50 vs plain"],
    )
    for name, result in (
        ("plain pykka.ThreadingActor (baseline)", plain),
        ("SupervisedActor, standalone", alone),
        ("SupervisedActor in a SupervisionTree", supervised),
    ):
        table.rows.append(
            [
                name,
                num(result["rate"]),
                ratio(result["rate"], plain["rate"]),
                us(result["p50"]),
                us(result["p99"]),
                ratio(result["p50"], plain["p50"]),
            ]
        )
    table.notes.append(
        f"messages/s: {args.messages:,} messages queued while the actor is held, then drained (best of "
        f"{args.repeats}, the three interleaved); asks: {args.asks:,} from one thread, one to each in turn"
    )
    immediate = restart_latency(None, args.restarts)
    default = restart_latency(Backoff(0.5, 30.0), min(args.restarts, 5))
    restarts = Table(
        "Crash → restarted (next incarnation's on_start done)",
        ["backoff", "restarts", "p50 ms", "p99 ms", "max ms"],
    )
    for name, took in (("none", immediate), ("default (0.5 s min, doubling, 20% jitter)", default)):
        restarts.rows.append(
            [name, len(took), ms(percentile(took, 0.5)), ms(percentile(took, 0.99)), ms(max(took))]
        )
    restarts.notes.append(
        "each a child's first restart (a fresh tree each): with the default backoff, further restarts of "
        "the same child within 60 s double the delay, up to 30 s"
    )
    return Report(
        "5. Supervision overhead",
        [table, restarts],
        [
            Target(
                "supervised throughput",
                "reported vs plain pykka (no numeric target)",
                ratio(supervised["rate"], plain["rate"]),
                True,
            ),
            Target(
                "restart latency",
                "reported (no numeric target)",
                f"{ms(percentile(immediate, 0.5))} ms without backoff",
                True,
            ),
        ],
    )


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
