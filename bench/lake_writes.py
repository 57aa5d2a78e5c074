"""Lake writes: observations/s into `position_updates` through the LakeWriterActor, vs a ceiling and a floor.

Measured in one run, on the same rows:
- writer: a sender tells `WriteRows` as fast as it can for `--seconds`, with `--rows-per-message`
  observations per message (a poller batch), then for up to 10 s with 1 (the worst case: streams batch
  theirs); every 20th message is an ask, timing the ack (journaled) while commits and compactions run.
  Throughput counts until everything is committed. Default `lake` settings (flush 1 s / 5000 rows).
  Files: data files of the table at the end (background compaction merges them).
- ceiling: pyarrow alone writing the same rows to one Parquet file: from the same Python objects
  (column conversion + write; the target's ceiling), and, for reference, from rows already in Arrow.
- floor: one Delta append commit per row (the seed design's rate), for a third of `--seconds` (at most 10 s).
Targets: the writer within 3x of the ceiling and at least 100x the floor.

    .venv/bin/python -m bench.lake_writes [--seconds 5] [--rows-per-message 100]
    .venv/bin/python -m bench.lake_writes --seconds 600      # the 10-minute figure (files after 10 min)
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: `python bench/lake_writes.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake

from bench.common import Report, Table, Target, bench_main, ms, num, percentile, ratio
from possync.actors.lake._tables import POSITION_UPDATES
from possync.actors.lake._writer import LakeWriterActor
from possync.config.settings import LakeSettings
from possync.messages.domain import Contract, DataType, Greeks, Observation, Quote, Source, Value, utc_now
from possync.messages.lake import GetLakeStatus, LakeStatus, WriteRows

ASK_EVERY = 20
CEILING_ROWS = 2_000_000
"""The ceiling's rate is measured on at most this many rows (a 10-minute run's rows would not fit in memory
as Python objects)."""
SHORT_S = 10.0
"""The 1-row-per-message run and the floor take at most this long (their rates do not drift)."""
MESSAGES = 200
"""Distinct messages built up front and sent round-robin, so the sender measures the writer, not itself."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of this benchmark."""
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the sender floods the writer")
    parser.add_argument("--rows-per-message", type=int, default=100, help="observations per WriteRows")
    parser.add_argument(
        "--thin", action="store_true", help="stock rows without value, quote or greeks (the rows before #15)"
    )


def build_messages(rows_per_message: int, thin: bool = False) -> list[WriteRows]:
    """`MESSAGES` distinct WriteRows of `rows_per_message` observations each: streamed option rows with
    value, quote and greeks (every column filled), or `thin` stock rows (the columns before #15)."""
    make = _thin_row if thin else _wide_row
    return [
        WriteRows(tuple(make(m * rows_per_message + n) for n in range(rows_per_message)))
        for m in range(MESSAGES)
    ]


THIN = "thin stock rows (the columns before #15)"
WIDE = "wide option rows: value, quote and greeks, every column filled"
_STOCK = Contract(265598, "AAPL", "STK")
_CALL = Contract(700001, "SPY", "OPT", "20270115", 600.0, "C", multiplier="100")


def _thin_row(n: int) -> Observation:
    return Observation("DU1", _STOCK, float(n), 1.5, 2.5, Source.STREAM, utc_now())


def _wide_row(n: int) -> Observation:
    price = 10.0 + n % 1000 / 100
    return Observation(
        "DU1", _CALL, 2.0, 1500.0, price, Source.STREAM, utc_now(), DataType.LIVE,
        Value(200.0 * price, 200.0 * price - 3000.0, None, 12.5),
        Quote(price - 0.05, price + 0.05, price, 10.0, 12.0),
        Greeks(0.21, 0.5 + n % 100 / 1000, 0.011, 0.62, -0.051, 601.0 + n % 50),
    )  # fmt: skip


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
    return {
        "rows": status.rows_written,
        "rows/s": status.rows_written / elapsed,
        "commits/s": status.commits / elapsed,
        "files": len(DeltaTable(str(root / "position_updates")).file_uris()),
        "bytes/row": _bytes_per_row(root / "position_updates"),
        "ack p50": statistics.median(acks),
        "ack p99": percentile(acks, 0.99),
        "ack max": max(acks),
    }


def _bytes_per_row(path: Path) -> float:
    """Bytes on disk per row of the table's current data files (after background compaction, if any ran)."""
    actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True)).to_pydict()
    return sum(actions["size_bytes"]) / max(1, sum(actions["num_records"]))


def _wait_committed(writer) -> LakeStatus:
    while True:
        status = writer.ask(GetLakeStatus(), timeout=30)
        if status.pending_rows == 0:
            return status
        time.sleep(0.05)


def raw_parquet(root: Path, messages: list[WriteRows], rows: int) -> dict[str, float]:
    """pyarrow alone, `rows` rows (at most `CEILING_ROWS`) into one Parquet file: from the Python rows,
    and from Arrow already."""
    sample = [row for message in messages for row in message.rows]
    objects = sample * max(1, round(min(rows, CEILING_ROWS) / len(sample)))
    started = time.perf_counter()
    columns = _columns(objects)
    table = pa.Table.from_arrays(
        [
            pa.array(values, type=field.type)
            for values, field in zip(columns, POSITION_UPDATES.schema, strict=True)
        ],
        schema=POSITION_UPDATES.schema,
    )
    pq.write_table(table, root / "from-objects.parquet")
    from_objects = time.perf_counter() - started
    started = time.perf_counter()
    pq.write_table(table, root / "from-arrow.parquet")
    from_arrow = time.perf_counter() - started
    return {"objects rows/s": len(objects) / from_objects, "arrow rows/s": len(objects) / from_arrow}


_CONTRACT_FIELDS = ("conid", "symbol", "sec_type", "expiry", "strike", "right", "currency")
_PARTS = (("value", Value), ("quote", Quote), ("greeks", Greeks))


def _columns(objects: list[Observation]) -> list[list]:
    """Every column of position_updates, straight from the observations (what pyarrow alone needs)."""
    columns = [
        [o.account for o in objects],
        *([getattr(o.contract, name) for o in objects] for name in _CONTRACT_FIELDS),
        [o.position for o in objects],
        [o.avg_cost for o in objects],
        [o.market_price for o in objects],
        [str(o.source) for o in objects],
        [o.event_ts for o in objects],
        [None if o.data_type is None else str(o.data_type) for o in objects],
        [float(o.contract.multiplier) if o.contract.multiplier else None for o in objects],
    ]
    for attribute, kind in _PARTS:
        parts = [getattr(o, attribute) for o in objects]
        columns += [[getattr(p, f) if p is not None else None for p in parts] for f in kind.__struct_fields__]
    return columns


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


def run(args: argparse.Namespace) -> Report:
    """Measure the writer (batched and one row per message), the ceilings and the floor."""
    batched_messages = build_messages(args.rows_per_message, args.thin)
    single_messages = build_messages(1, args.thin)
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as directory:
        root = Path(directory)
        batched = through_writer(root / "lake", batched_messages, args.seconds)
        single = through_writer(root / "lake-1", single_messages, min(args.seconds, SHORT_S))
        ceiling = raw_parquet(root, batched_messages, int(batched["rows"]))
        floor = commit_per_row(root, batched_messages, min(args.seconds / 3, SHORT_S))
    top = ceiling["objects rows/s"]
    table = Table(
        f"Observations into position_updates, {args.seconds:g} s of sending "
        f"({min(args.seconds, SHORT_S):g} s for 1 row/message, "
        f"{min(args.seconds / 3, SHORT_S):.3g} s for the floor)",
        ["path", "observations/s", "commits/s", "files after", "vs ceiling", "vs floor"],
    )
    table.rows += [
        [
            "raw pyarrow Parquet from the same rows (ceiling)",
            num(top),
            "-",
            1,
            "1.00x",
            ratio(top, floor["rows/s"]),
        ],
        [
            "raw pyarrow Parquet, rows already Arrow (reference)",
            num(ceiling["arrow rows/s"]),
            "-",
            1,
            ratio(ceiling["arrow rows/s"], top),
            ratio(ceiling["arrow rows/s"], floor["rows/s"]),
        ],
        [
            f"LakeWriterActor, {args.rows_per_message} rows/message",
            num(batched["rows/s"]),
            num(batched["commits/s"], 2),
            num(batched["files"]),
            ratio(batched["rows/s"], top),
            ratio(batched["rows/s"], floor["rows/s"]),
        ],
        [
            "LakeWriterActor, 1 row/message (worst case)",
            num(single["rows/s"]),
            num(single["commits/s"], 2),
            num(single["files"]),
            ratio(single["rows/s"], top),
            ratio(single["rows/s"], floor["rows/s"]),
        ],
        [
            "one Delta commit per row (floor)",
            num(floor["rows/s"]),
            num(floor["commits/s"], 1),
            num(floor["files"]),
            ratio(floor["rows/s"], top),
            "1.00x",
        ],
    ]
    table.notes += [
        f"{num(batched['rows'])} + {num(single['rows'])} observations written; the writer's rate runs until "
        "the last row is committed",
        f"rows: {THIN if args.thin else WIDE}; "
        f"on disk {batched['bytes/row']:.1f} bytes/row ({args.rows_per_message} rows/message), "
        f"{single['bytes/row']:.1f} (1 row/message)",
        f"ack of an ask among the flood ({args.rows_per_message} rows/message): "
        f"p50 {ms(batched['ack p50'])} ms, p99 {ms(batched['ack p99'])} ms, "
        f"max {ms(batched['ack max'])} ms (journaled = durable)",
        "files after: data files at the end of the run; `--seconds 600` gives the 10-minute figure",
    ]
    return Report(
        "2. Lake writes",
        [table],
        [
            Target(
                "writer vs ceiling",
                "≥ 0.5x raw pyarrow",
                ratio(batched["rows/s"], top),
                batched["rows/s"] * 2 >= top,
            ),
            Target(
                "writer vs floor",
                "≥ 100x one commit per row",
                ratio(batched["rows/s"], floor["rows/s"]),
                batched["rows/s"] >= 100 * floor["rows/s"],
            ),
        ],
    )


if __name__ == "__main__":
    bench_main(sys.modules[__name__])
