"""The lake's latest row per position on a long history: what the reconciler reads at every session start.

A `position_updates` table of `--rows` streamed option rows over `--keys` (account, conid) keys, written in
batches of 50,000 (a few days of a busy service: the soak wrote 1.3 M rows an hour). Each read runs in a
fresh child process, so its peak RSS (`VmHWM`: ru_maxrss would carry the parent's over) is its own:
- `LatestPositions(lake).refresh()`: today's query (`_LATEST_SQL`: the newest event_ts per key by an
  aggregate, then a hash join);
- the baseline: the query before it, a `row_number()` window over every row of the table.

    .venv/bin/python -m bench.latest_read [--rows 3000000] [--keys 1100]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/x.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deltalake import write_deltalake

from bench.common import REPO, Report, Table, Target, bench_main, num
from possync.actors.lake._tables import POSITION_UPDATES
from possync.messages.domain import Contract, DataType, Greeks, Observation, Quote, Source, Value, utc_now

BATCH = 50_000
WINDOW_SQL = """
SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY account, conid ORDER BY event_ts DESC) AS newest
    FROM position_updates
) WHERE newest = 1
"""
"""The read before 2026-12-02 evening: a window over the whole history."""
_CHILD = """
import json, sys, time
from possync.actors.lake import _positions
from possync.actors.lake._positions import LatestPositions
if sys.argv[2] == "window":
    _positions._LATEST_SQL = sys.argv[3]
started = time.perf_counter()
keys = len(LatestPositions(sys.argv[1]).refresh()) if sys.argv[2] != "none" else 0
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"keys": keys, "s": time.perf_counter() - started, "peak_mib": int(hwm.split()[1]) / 1024}))
"""
TARGET_PEAK_RATIO = 0.5
"""The read this session's fix is for must peak at most half the window's memory on the default history."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--rows", type=int, default=3_000_000, help="rows of history in the table")
    parser.add_argument("--keys", type=int, default=1_100, help="distinct (account, conid) keys")


def write_history(root: Path, rows: int, keys: int) -> None:
    """`rows` wide option rows over `keys` conids into `root`/position_updates, `BATCH` rows a commit."""
    uri = str(root / POSITION_UPDATES.name)
    for start in range(0, rows, BATCH):
        batch = [_row(n, keys) for n in range(start, min(rows, start + BATCH))]
        write_deltalake(uri, POSITION_UPDATES.pack_and_convert(batch)[1], mode="append")


def _row(n: int, keys: int) -> Observation:
    contract = Contract(100_000 + n % keys, "SPY", "OPT", "20270115", 600.0, "C", multiplier="100")
    price = 10.0 + n % 100 / 10
    return Observation(
        "DU1", contract, 2.0, 1500.0, price, Source.STREAM, utc_now(), DataType.LIVE,
        Value(200.0 * price, 200.0 * price - 3000.0, None, 12.5),
        Quote(price - 0.05, price + 0.05, price, 10.0, 12.0),
        Greeks(0.21, 0.5, 0.011, 0.62, -0.051, 601.0),
    )  # fmt: skip


def read_in_child(root: Path, which: str) -> dict[str, float]:
    """One read of the latest state in a fresh interpreter: keys found, seconds, peak RSS in MiB."""
    command = [sys.executable, "-c", _CHILD, str(root), which, WINDOW_SQL]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> Report:
    """Write the history once, then read it both ways."""
    with tempfile.TemporaryDirectory(prefix="bench-latest-") as directory:
        root = Path(directory)
        started = time.perf_counter()
        write_history(root, args.rows, args.keys)
        written_s = time.perf_counter() - started
        results = {which: read_in_child(root, which) for which in ("none", "join", "window")}
    table = Table(
        f"Latest row per key, {num(args.rows)} rows of history, {num(args.keys)} keys (each read in a fresh "
        "process)",
        ["read", "keys", "seconds", "peak RSS MiB"],
    )
    names = {"join": "aggregate + hash join (today)", "window": "row_number() window (baseline: before)"}
    for which, result in list(results.items())[1:]:
        table.rows.append([names[which], num(result["keys"]), f"{result['s']:.2f}", num(result["peak_mib"])])
    table.notes.append(
        f"history written in {written_s:.0f} s; a process that imports the same and reads nothing peaks at "
        f"{num(results['none']['peak_mib'])} MiB"
    )
    join, window = results["join"], results["window"]
    target = Target(
        "peak memory of the latest-state read",
        f"≤ {TARGET_PEAK_RATIO}x the window's, same keys",
        f"{num(join['peak_mib'])} vs {num(window['peak_mib'])} MiB",
        join["keys"] == window["keys"] and join["peak_mib"] <= TARGET_PEAK_RATIO * window["peak_mib"],
    )
    return Report("Latest positions on a long history", [table], [target])


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
