"""How fast observations reach Delta Lake through the LakeWriterActor, against a ceiling and a floor.

Measured in one run, on the same rows:
- writer: a sender tells `WriteRows` (`--rows-per-message` observations each) as fast as it can for
  `--seconds`; every 20th message is an ask, timing the ack (journaled) while commits and compactions run.
  Throughput counts until everything is committed. Default `lake` settings (flush 1 s / 5000 rows).
- ceiling: pyarrow alone writing the same rows (already Arrow) to one Parquet file.
- floor: one Delta append commit per row (the seed design's rate), for a third of `--seconds`.
Prints a markdown table. Never part of the test run.

    .venv/bin/python bench/lake_writes.py [--seconds 5] [--rows-per-message 100]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from actors.lake_tables import POSITION_UPDATES
from actors.lake_writer import LakeWriterActor
from config.settings import LakeSettings
from messages.domain import Contract, Observation, Source, utc_now
from messages.lake import GetLakeStatus, LakeStatus, WriteRows

ASK_EVERY = 20
MESSAGES = 200
"""Distinct messages built up front and sent round-robin, so the sender measures the writer, not itself."""


def build_messages(rows_per_message: int) -> list[WriteRows]:
    contract = Contract(265598, "AAPL", "STK")
    return [
        WriteRows(
            tuple(
                Observation(
                    "DU1", contract, float(m * rows_per_message + n), 1.5, 2.5, Source.STREAM, utc_now()
                )
                for n in range(rows_per_message)
            )
        )
        for m in range(MESSAGES)
    ]


def through_writer(root: Path, messages: list[WriteRows], seconds: float) -> dict[str, float]:
    """Flood the writer for `seconds`, wait until it committed everything; rates over the whole span."""
    writer = LakeWriterActor.start(None, LakeSettings(root=str(root)))
    try:
        writer.ask(GetLakeStatus(), timeout=30)
        sent, acks, started = 0, [], time.perf_counter()
        while time.perf_counter() - started < seconds:
            message = messages[sent % len(messages)]
            if sent % ASK_EVERY == 0:
                asked = time.perf_counter()
                writer.ask(message, timeout=30)
                acks.append(time.perf_counter() - asked)
            else:
                writer.tell(message)
            sent += 1
        status = _wait_committed(writer)
        elapsed = time.perf_counter() - started
    finally:
        writer.stop(timeout=30)
    acks.sort()
    return {
        "rows": status.rows_written,
        "rows/s": status.rows_written / elapsed,
        "commits/s": status.commits / elapsed,
        "files": len(DeltaTable(str(root / "position_updates")).file_uris()),
        "ack p50 ms": statistics.median(acks) * 1000,
        "ack p99 ms": acks[int(len(acks) * 0.99)] * 1000,
        "ack max ms": acks[-1] * 1000,
    }


def _wait_committed(writer) -> LakeStatus:
    while True:
        status = writer.ask(GetLakeStatus(), timeout=30)
        if status.pending_rows == 0:
            return status
        time.sleep(0.05)


def raw_parquet(root: Path, messages: list[WriteRows], rows: int) -> dict[str, float]:
    """pyarrow alone: the same number of rows, already Arrow, into one Parquet file."""
    chunk = POSITION_UPDATES.unpack(POSITION_UPDATES.pack([r for m in messages for r in m.rows]))
    table = pa.concat_tables([chunk] * max(1, round(rows / chunk.num_rows)))
    started = time.perf_counter()
    pq.write_table(table, root / "ceiling.parquet")
    return {"rows/s": table.num_rows / (time.perf_counter() - started), "files": 1}


def commit_per_row(root: Path, messages: list[WriteRows], seconds: float) -> dict[str, float]:
    """One Delta append commit per row, as a table-as-queue design does."""
    path = str(root / "floor")
    rows = [POSITION_UPDATES.unpack(POSITION_UPDATES.pack([row])) for row in messages[0].rows]
    commits, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        write_deltalake(path, rows[commits % len(rows)], mode="append")
        commits += 1
    elapsed = time.perf_counter() - started
    return {
        "rows/s": commits / elapsed,
        "commits/s": commits / elapsed,
        "files": len(DeltaTable(path).file_uris()),
    }


def main() -> None:
    """Parse the flags, measure the three paths, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the sender floods the writer")
    parser.add_argument("--rows-per-message", type=int, default=100, help="observations per WriteRows")
    args = parser.parse_args()
    messages = build_messages(args.rows_per_message)
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as directory:
        root = Path(directory)
        writer = through_writer(root / "lake", messages, args.seconds)
        ceiling = raw_parquet(root, messages, int(writer["rows"]))
        floor = commit_per_row(root, messages, args.seconds / 3)
    rate = writer["rows/s"]
    sent = f"{int(writer['rows'])} observations, {args.rows_per_message} per message"
    print(f"{sent}, {args.seconds:g} s of sending; 'writer is' = writer rate / that path's rate")
    print()
    print("| path | observations/s | commits/s | files after | writer is |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| raw pyarrow Parquet (ceiling) | {ceiling['rows/s']:,.0f} | - | 1 "
        f"| {rate / ceiling['rows/s']:.2f}x |"
    )
    print(f"| LakeWriterActor | {rate:,.0f} | {writer['commits/s']:.2f} | {writer['files']:.0f} | 1.00x |")
    print(
        f"| one Delta commit per row (floor) | {floor['rows/s']:,.0f} | {floor['commits/s']:.1f} "
        f"| {floor['files']:.0f} | {rate / floor['rows/s']:,.0f}x |"
    )
    print()
    print(
        "ack latency of the asks among the flood of tells (queueing included): "
        f"p50 {writer['ack p50 ms']:.1f} ms, "
        f"p99 {writer['ack p99 ms']:.1f} ms, max {writer['ack max ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
