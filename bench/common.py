"""What every benchmark shares: percentiles, markdown tables, targets, the machine's load, a main().

A benchmark module offers `add_arguments(parser)` (its flags, each with a short default) and
`run(args) -> Report`; `bench_main(module)` turns that into a command, and `python -m bench` runs them all.
"""

import argparse
import contextlib
import ctypes
import math
import os
import re
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` runs with bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    """Seconds as milliseconds with two decimals (or '-' for NaN)."""
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def us(seconds: float) -> str:
    """Seconds as microseconds, no decimals (or '-' for NaN)."""
    return "-" if math.isnan(seconds) else f"{seconds * 1e6:,.0f}"


def ratio(value: float, baseline: float) -> str:
    """`value / baseline` as '1.23x' ('-' when the baseline is 0 or NaN)."""
    if not baseline or math.isnan(baseline) or math.isnan(value):
        return "-"
    return f"{value / baseline:,.2f}x"


def num(value: float, decimals: int = 0) -> str:
    """A number with thousands separators ('-' for NaN)."""
    return "-" if math.isnan(value) else f"{value:,.{decimals}f}"


@dataclass
class Table:
    """A markdown table with a title line and notes under it."""

    title: str
    headers: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """The table as markdown: `**title**`, the header, the alignment row, the rows, the notes."""
        right = ["---:" if i else "---" for i in range(len(self.headers))]
        lines = [f"**{self.title}**", "", _row(self.headers), _row(right)]
        lines += [_row([str(cell) for cell in row]) for row in self.rows]
        lines += [""] + [f"- {note}" for note in self.notes] if self.notes else []
        return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass
class Target:
    """One target of the issue: what it asks, what was measured, and whether it is met."""

    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Report:
    """What one benchmark found: its tables, its targets, and the load of the machine while it ran."""

    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    load: str = ""

    def markdown(self) -> str:
        """The tables, then the load line."""
        parts = [f"### {self.name}", ""]
        for table in self.tables:
            parts += [table.markdown(), ""]
        if self.load:
            parts.append(f"_{self.load}_")
        return "\n".join(parts)


def targets_table(reports: Sequence[Report]) -> Table:
    """One table of every target of `reports`, met or missed."""
    table = Table("Targets", ["benchmark", "target", "goal", "measured", "verdict"])
    for report in reports:
        for target in report.targets:
            verdict = "met" if target.met else "**MISSED**"
            table.rows.append([report.name, target.name, target.goal, target.measured, verdict])
    return table


class LoadMeter:
    """The machine's load while a benchmark runs: load average and this process's CPU use."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def summary(self) -> str:
        """One line: cores, load averages (1/5 min) now, and this process's CPU % since construction."""
        wall = time.perf_counter() - self._wall
        cpu = (time.process_time() - self._cpu) / wall * 100 if wall else math.nan
        one, five, _ = os.getloadavg()
        return (
            f"machine: {os.cpu_count()} cores, shared; load average {one:.2f} (1 min) {five:.2f} (5 min); "
            f"the benchmark process (not its children) used {cpu:.0f}% of one core over {wall:.0f} s"
        )


class ProcessSampler:
    """Samples this process's RSS, thread count and CPU % every `interval_s` in a thread of its own."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.rss_mib: list[float] = []
        self.threads: list[int] = []
        self.cpu_pct: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def __enter__(self) -> "ProcessSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        while not self._stop.wait(self.interval_s):
            now_wall, now_cpu = time.perf_counter(), time.process_time()
            self.cpu_pct.append((now_cpu - cpu) / (now_wall - wall) * 100)
            wall, cpu = now_wall, now_cpu
            self.rss_mib.append(rss_mib())
            self.threads.append(threading.active_count())


def _status_kib(*keys: str) -> dict[str, float]:
    """Fields of /proc/self/status in KiB (NaN for each one that is not there, or without procfs)."""
    found = dict.fromkeys(keys, math.nan)
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, *value = line.split()
            if key in found:
                found[key] = float(value[0])
    return found


def rss_mib() -> float:
    """This process's resident memory now, in MiB (from /proc/self/status; peak RSS elsewhere)."""
    rss = _status_kib("VmRSS:")["VmRSS:"]
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if math.isnan(rss) else rss / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")
    ]  # fmt: skip


def malloc_mib() -> tuple[float, float]:
    """glibc malloc over all its arenas, in MiB: (in use, including mmapped blocks; free but kept).

    (nan, nan) where there is no `mallinfo2` (not glibc, or glibc < 2.33). Native memory of libraries with
    an allocator of their own (Arrow's pool, deltalake's jemalloc) is not in it.
    """
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return math.nan, math.nan
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def pymalloc_mib() -> float:
    """MiB in Python's small-object arenas (pymalloc maps them itself: outside glibc's figures).

    Read from `sys._debugmallocstats()`, which prints to the C stderr: fd 2 goes to a file meanwhile (a
    line another thread writes to stderr in that millisecond goes there too). NaN where it says nothing.
    """
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        match = re.search(r"arenas \* \d+ bytes/arena\s+=\s+([\d,]+)", out.read())
    return int(match.group(1).replace(",", "")) / 2**20 if match else math.nan


def rss_parts_mib() -> tuple[float, float]:
    """(anonymous, file-backed) resident memory of this process, in MiB (/proc/self/status)."""
    parts = _status_kib("RssAnon:", "RssFile:")
    return parts["RssAnon:"] / 1024, parts["RssFile:"] / 1024


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, step_s: float = 0.01) -> float:
    """Poll `condition` until true; return when (time.monotonic()); raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(step_s)
    raise TimeoutError(f"benchmark: {what} did not happen within {timeout_s:g}s")


def bench_main(module: ModuleType, argv: Sequence[str] | None = None) -> Report:
    """Parse the module's flags, run it, print its report (and its targets); return the report."""
    parser = argparse.ArgumentParser(
        description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    meter = LoadMeter()
    report: Report = module.run(args)
    report.load = meter.summary()
    print(report.markdown())
    if report.targets:
        print()
        print(targets_table([report]).markdown())
    return report
