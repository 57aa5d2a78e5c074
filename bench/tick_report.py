"""The tick path's report (`bench.tick_path`): latency per receiver and pattern, the rate steps, targets."""

import math
from typing import TYPE_CHECKING

from bench.common import Report, Table, Target, ms, num, ratio

if TYPE_CHECKING:
    from bench.tick_path import Step

TARGET_ADDED_P99_S = 0.001
TARGET_RATE_RATIO = 0.9
"""#15's targets (with the richer rows): p99 added latency < 1 ms, sustained rate ≥ 0.9x the bare client."""
LATENCY_WINDOWS = 3
RECEIVERS = ("bare ib_insync (ceiling)", "possync on_update, queued", "possync on_update, inline")
MODES = ("queued", "inline")


def report(streams: int, seconds: float, results: dict[str, tuple[list["Step"], ...]]) -> Report:
    """The latency table, the rate steps, and the targets for each of possync's handler modes."""
    bare = results["burst"][0]
    latency, added = _latency_table(streams, seconds, bare[0].tick_hz, results)
    steps, sustained = _steps_table(streams, results["burst"])
    targets = [
        Target(
            f"p99 added latency, {pattern}, {mode}",
            f"< 1 ms at {streams} x {bare[0].tick_hz:g} ticks/s",
            f"{ms(value)} ms",
            value < TARGET_ADDED_P99_S,
        )
        for (pattern, mode), value in added.items()
    ]
    bare_max = sustained["bare"]
    for mode in MODES:
        ours_max = sustained[mode]
        targets.append(
            Target(
                f"sustained rate, {mode}",
                f"≥ {TARGET_RATE_RATIO}x bare",
                f"{ratio(ours_max, bare_max)} ({num(ours_max)} vs {num(bare_max)} ticks/s)",
                bare_max > 0 and ours_max >= TARGET_RATE_RATIO * bare_max,
            )
        )
    return Report("1. Tick path", [latency, steps], targets)


def _latency_table(
    streams: int, seconds: float, tick_hz: float, results: dict[str, tuple[list["Step"], ...]]
) -> tuple[Table, dict[tuple[str, str], float]]:
    """Each receiver's latency at the first step, per tick pattern; the added p99 per (pattern, mode)."""
    latency = Table(
        f"Tick → handler latency, {streams} streams x {tick_hz:g} ticks/s, {seconds:g} s window each",
        [
            "ticks",
            "receiver",
            "updates",
            "p50 ms",
            "p99 ms",
            "p99 per window ms",
            "max ms",
            "added p50 ms",
            "added p99 ms",
        ],
    )
    added: dict[tuple[str, str], float] = {}
    for pattern, runs in results.items():
        b = runs[0][0]
        for index, (name, run) in enumerate(zip(RECEIVERS, runs, strict=True)):
            step = run[0]
            mine = index > 0
            if mine:
                added[pattern, MODES[index - 1]] = step.p99 - b.p99
            latency.rows.append(
                [
                    pattern,
                    name,
                    len(step.latencies),
                    ms(step.p(0.5)),
                    ms(step.p99),
                    " / ".join(ms(p99) for p99 in step.window_p99s),
                    ms(max(step.latencies, default=math.nan)),
                    ms(step.p(0.5) - b.p(0.5)) if mine else "-",
                    ms(step.p99 - b.p99) if mine else "-",
                ]
            )
    unpaired = sum(run[0].unmatched for runs in results.values() for run in runs)
    latency.notes += [
        f"burst: all {streams} ticks of a cycle in one write; spread: one stream's tick per write, evenly "
        "spaced over the cycle (simulator tick_slots)",
        f"p99 = the median of the {LATENCY_WINDOWS} windows' p99 (a stall of the shared machine spoils one "
        "window, not the figure); added = possync - bare, same simulator, same clock, one after the other; "
        f"updates not paired with a sent tick: {unpaired}",
    ]
    return latency, added


def _steps_table(streams: int, runs: tuple[list["Step"], ...]) -> tuple[Table, dict[str, float]]:
    """The rate steps of every receiver (burst ticks); the sustained rate of each ("bare" and the modes)."""
    steps = Table(
        "Rate steps, burst ticks (stable = no backlog grows)",
        [
            "ticks/s per stream",
            "receiver",
            "sent ticks/s",
            "updates/s",
            "p50 ms",
            "p99 ms",
            "lag growth ms",
            "deepest inbox (growth)",
            "stable",
        ],
    )
    bare = runs[0]
    by_rate = [{step.tick_hz: step for step in run} for run in runs]
    for b in bare:
        for name, mine in zip(("bare", *(f"possync, {m}" for m in MODES)), by_rate, strict=True):
            steps.rows.append(_step_row(b.tick_hz, name, mine.get(b.tick_hz)))
    sustained = {
        key: max((s.sent_per_s for s in run if s.stable), default=0.0)
        for key, run in zip(("bare", *MODES), runs, strict=True)
    }
    steps.notes.append(
        f"sustained: bare {num(sustained['bare'])} ticks/s; possync "
        + ", ".join(f"{m} {num(sustained[m])} ({ratio(sustained[m], sustained['bare'])})" for m in MODES)
    )
    top = bare[-1]
    if top.stable:
        steps.notes.append(
            f"bare is stable at the top step, where the simulator itself managed {num(top.sent_per_s)} of "
            f"{num(top.tick_hz * streams)} ticks/s: the bare client's ceiling is at least that"
        )
    return steps, sustained


def _step_row(tick_hz: float, name: str, step: "Step | None") -> list:
    """One row of the rate steps table."""
    if step is None:
        return [f"{tick_hz:g}", name, "not run: unstable at a lower rate", *["-"] * 6]
    return [
        f"{step.tick_hz:g}",
        name,
        num(step.sent_per_s),
        num(step.updates_per_s),
        ms(step.p(0.5)),
        ms(step.p99),
        ms(step.growth_s),
        f"{step.inbox} ({step.inbox_growth:+}) {step.deepest if step.inbox else ''}"
        if name != "bare"
        else "-",
        "yes" if step.stable else "**no**",
    ]
