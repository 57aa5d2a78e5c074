"""The soak's CSV as figures and a plot: `python -m bench.soak_report soak.csv [soak.png]`.

Figures over the samples after the warm-up (`WARMUP_S`, 20 minutes): the RSS slope (least squares, MiB
per hour; target < 5; also over the last hour, over the medians of 10-minute windows, and the mean of
each half), the slopes of its parts (anonymous, glibc malloc, pymalloc), threads, FDs and lake files as
min..max, commit p99 in the first and the second half, rows acknowledged against rows written. The plot
(matplotlib, the `bench` extra) draws one panel per series, with the warm-up shaded.
"""

import csv
import math
import statistics
import sys
from pathlib import Path

WARMUP_S = 20 * 60.0
COLUMNS = [
    "t_s", "rss_mib", "arrow_mib", "threads", "fds", "lake_files", "lake_mib", "journal_kib",
    "commit_p50_ms", "commit_p99_ms", "rows_acked", "rows_written", "pending_rows", "lines",
    "gateway_lines", "streaming", "restarts", "degraded",
    "rss_anon_mib", "malloc_used_mib", "malloc_free_mib", "pymalloc_mib",
]  # fmt: skip
"""Columns after `degraded` are absent from soaks before 2026-12-02 evening, `pymalloc_mib` from soaks
before 2026-12-03 (read as NaN)."""
PANELS = [
    (
        "memory (MiB)",
        ["rss_mib", "rss_anon_mib", "malloc_used_mib", "malloc_free_mib", "pymalloc_mib", "arrow_mib"],
    ),
    ("threads and FDs", ["threads", "fds"]),
    ("lake files", ["lake_files"]),
    ("lake and journal size", ["lake_mib", "journal_kib"]),
    ("commit time (ms)", ["commit_p50_ms", "commit_p99_ms"]),
    ("rows", ["rows_acked", "rows_written"]),
    ("lines", ["lines", "gateway_lines", "streaming"]),
    ("restarts, degraded", ["restarts", "degraded"]),
]


def load(path: Path) -> list[dict[str, float]]:
    """The samples of a soak CSV."""
    with path.open(newline="") as source:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(source)]
    return [{key: row.get(key, math.nan) for key in COLUMNS} for row in rows]


def slope_per_hour(samples: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of `key` against time, per hour (0 with fewer than two samples)."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s["t_s"] / 3600 for s in samples], [s[key] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def window_medians(
    samples: list[dict[str, float]], key: str, window_s: float = 600.0
) -> list[dict[str, float]]:
    """The median of `key` per `window_s` of samples (at the window's middle): a transient peak caught by
    one sample (a compaction's buffers, freed seconds later) moves a least-squares slope, not a median."""
    windows: dict[int, list[dict[str, float]]] = {}
    for sample in samples:
        windows.setdefault(int(sample["t_s"] // window_s), []).append(sample)
    return [
        {"t_s": (index + 0.5) * window_s, key: statistics.median(s[key] for s in part)}
        for index, part in sorted(windows.items())
    ]


def _span(samples: list[dict[str, float]], key: str) -> str:
    values = [s[key] for s in samples]
    return f"{min(values):,.0f}..{max(values):,.0f}" if values else "-"


def _split(samples: list[dict[str, float]]) -> tuple[list[dict[str, float]], ...]:
    half = len(samples) // 2
    return samples[:half] or samples, samples[half:] or samples


def _halves(samples: list[dict[str, float]], key: str) -> str:
    early, late = (max(s[key] for s in part) for part in _split(samples))
    return f"{early:,.1f} → {late:,.1f}"


def _mean_halves(samples: list[dict[str, float]], key: str) -> str:
    early, late = (sum(s[key] for s in part) / len(part) for part in _split(samples))
    return f"{early:,.1f} → {late:,.1f}"


def _slope(samples: list[dict[str, float]], key: str) -> str:
    slope = slope_per_hour(samples, key)
    return "not sampled" if math.isnan(slope) else f"{slope:+.2f} MiB/h"


def summary(samples: list[dict[str, float]]) -> list[tuple[str, str]]:
    """(figure, value) pairs over the samples after the warm-up."""
    after = [s for s in samples if s["t_s"] >= WARMUP_S] or samples
    last = samples[-1]
    last_hour = [s for s in samples if s["t_s"] >= last["t_s"] - 3600] or samples
    return [
        ("duration", f"{last['t_s'] / 3600:.2f} h, {len(samples)} samples"),
        ("RSS after warm-up", f"{_span(after, 'rss_mib')} MiB"),
        ("RSS slope after warm-up", f"{slope_per_hour(after, 'rss_mib'):+.2f} MiB/h"),
        ("RSS slope, last hour", f"{slope_per_hour(last_hour, 'rss_mib'):+.2f} MiB/h"),
        ("RSS slope of 10-minute medians after warm-up", _slope(window_medians(after, "rss_mib"), "rss_mib")),
        ("anonymous RSS slope after warm-up", _slope(after, "rss_anon_mib")),
        ("RSS mean, 2nd half of the rest vs its 1st half", _mean_halves(after, "rss_mib")),
        ("lake files, last hour", _span(last_hour, "lake_files")),
        ("lake MiB, last hour", _span(last_hour, "lake_mib")),
        ("Arrow pool after warm-up", f"{_span(after, 'arrow_mib')} MiB"),
        ("glibc malloc in use, slope after warm-up", _slope(after, "malloc_used_mib")),
        ("glibc malloc free but kept, slope after warm-up", _slope(after, "malloc_free_mib")),
        ("pymalloc arenas, slope after warm-up", _slope(after, "pymalloc_mib")),
        ("threads after warm-up", _span(after, "threads")),
        ("FDs after warm-up", _span(after, "fds")),
        ("lake files after warm-up", _span(after, "lake_files")),
        ("journal after warm-up", f"{_span(after, 'journal_kib')} KiB"),
        ("commit p99, max per half (after warm-up)", f"{_halves(after, 'commit_p99_ms')} ms"),
        ("rows acknowledged (observations)", f"{last['rows_acked']:,.0f}"),
        ("rows written (all tables: observations and queue attempts)", f"{last['rows_written']:,.0f}"),
        ("supervision restarts", f"{last['restarts']:,.0f}"),
    ]  # fmt: skip


def plot(samples: list[dict[str, float]], path: Path) -> None:
    """One panel per series group, the warm-up shaded."""
    import matplotlib  # the bench extra; imported here so the figures need none

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(PANELS) // 2, 2, figsize=(12, 12), sharex=True)
    minutes = [s["t_s"] / 60 for s in samples]
    for ax, (title, keys) in zip(axes.flat, PANELS, strict=True):
        for key in keys:
            ax.plot(minutes, [s[key] for s in samples], label=key, linewidth=1)
        ax.axvspan(0, min(WARMUP_S / 60, minutes[-1]), color="grey", alpha=0.15)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def report(csv_path: Path, png_path: Path | None = None) -> str:
    """The summary as a markdown table; draws the plot when `png_path` is given."""
    samples = load(csv_path)
    if png_path is not None and samples:
        plot(samples, png_path)
    lines = ["| figure | value |", "|---|---|"]
    return "\n".join(lines + [f"| {k} | {v} |" for k, v in summary(samples)]) if samples else "no samples"


if __name__ == "__main__":
    print(report(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None))
