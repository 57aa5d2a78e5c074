"""Run every benchmark with its short defaults: one markdown section per benchmark, then every target.

    .venv/bin/python -m bench                              # all, short defaults (a few minutes)
    .venv/bin/python -m bench --only tick_path,recovery     # some
    .venv/bin/python -m bench --full --output results.md    # the long versions (about 20 minutes)

Each benchmark also runs alone: `.venv/bin/python -m bench.<name> --help`.
"""

import argparse
import datetime
import importlib
import os
import platform
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/__main__.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import LoadMeter, Report, targets_table

BENCHMARKS = ("tick_path", "lake_writes", "lake_s3", "latest_read", "recovery", "scale", "supervision")
FULL = {
    "tick_path": ["--full"],
    "lake_writes": ["--seconds", "600"],
    "recovery": ["--restarts", "3"],
    "scale": ["--seconds", "300"],
    "supervision": ["--messages", "200000", "--repeats", "5"],
}
"""What `--full` passes to each benchmark: the long versions the issue names (10 min of lake writes, 5 min
of scale, more tick rates and longer windows)."""


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks in order; print (and optionally write) the markdown; 0 when all ran."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated benchmark names")
    parser.add_argument("--full", action="store_true", help="the long versions (see FULL)")
    parser.add_argument("--output", type=Path, help="also write the markdown to this file")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}: choose from {', '.join(BENCHMARKS)}")
    header = _header(args)
    print(header, flush=True)
    reports: list[Report] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        sub = argparse.ArgumentParser()
        module.add_arguments(sub)
        meter = LoadMeter()
        report = module.run(sub.parse_args(FULL.get(name, []) if args.full else []))
        report.load = meter.summary()
        reports.append(report)
        print(report.markdown(), flush=True)
        print(flush=True)
    summary = targets_table(reports).markdown()
    print(summary)
    if args.output is not None:
        body = [header] + [report.markdown() for report in reports] + [summary]
        args.output.write_text("\n\n".join(body) + "\n", encoding="utf-8")
    return 0


def _header(args: argparse.Namespace) -> str:
    command = (
        "python -m bench"
        + (" --full" if args.full else "")
        + (f" --only {args.only}" if args.only != ",".join(BENCHMARKS) else "")
    )
    return (
        f"## Benchmarks, {datetime.date.today().isoformat()}\n\n"
        f"`{command}` on {platform.system()} {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores (shared with other work: see each section's load line)"
    )


if __name__ == "__main__":
    sys.exit(main())
