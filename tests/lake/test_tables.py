"""The lake tables: documented schemas, pack/unpack round trips, clear errors for bad rows, older records."""

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pyarrow as pa
import pytest

from possync.actors.lake._tables import (
    ACTIVE_STRATEGIES,
    GREEK_COLUMNS,
    POSITION_QUEUE,
    POSITION_UPDATES,
    QUOTE_COLUMNS,
    TABLES,
    VALUE_COLUMNS,
    LakeRowError,
    split_by_table,
    table_named,
)
from possync.messages.domain import Contract, DataType, Greeks, Observation, Quote, Source, Value
from possync.messages.lake import QueueAttempt, StrategyChange

pytestmark = pytest.mark.timeout(30)

TS = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
OPTION = Contract(1234, "SPY", "OPT", "20240621", 500.0, "C", "USD", "CBOE")
UTC_TS = pa.timestamp("us", tz="UTC")

DOCUMENTED = {
    "position_updates": [
        ("account", pa.string()), ("conid", pa.int64()), ("symbol", pa.string()), ("sec_type", pa.string()),
        ("expiry", pa.string()), ("strike", pa.float64()), ("right", pa.string()), ("currency", pa.string()),
        ("position", pa.float64()), ("avg_cost", pa.float64()), ("market_price", pa.float64()),
        ("source", pa.string()), ("event_ts", UTC_TS),
        ("data_type", pa.string()), ("multiplier", pa.float64()),
        ("market_value", pa.float64()), ("unrealized_pnl", pa.float64()), ("realized_pnl", pa.float64()),
        ("daily_pnl", pa.float64()), ("bid", pa.float64()), ("ask", pa.float64()), ("last", pa.float64()),
        ("bid_size", pa.float64()), ("ask_size", pa.float64()), ("implied_vol", pa.float64()),
        ("delta", pa.float64()), ("gamma", pa.float64()), ("vega", pa.float64()), ("theta", pa.float64()),
        ("und_price", pa.float64()),
    ],
    "active_strategies": [
        ("conid", pa.int64()), ("symbol", pa.string()), ("sec_type", pa.string()), ("expiry", pa.string()),
        ("strike", pa.float64()), ("right", pa.string()), ("currency", pa.string()),
        ("exchange", pa.string()), ("strategy_id", pa.string()), ("priority", pa.int64()),
        ("active", pa.bool_()), ("changed_ts", UTC_TS), ("changed_by", pa.string()),
        ("account", pa.string()),
    ],
    "position_queue": [
        ("conid", pa.int64()), ("account", pa.string()), ("outcome", pa.string()), ("attempt", pa.int64()),
        ("error", pa.string()), ("event_ts", UTC_TS),
    ],
}  # fmt: skip


def test_every_table_has_its_documented_schema() -> None:
    assert {t.name: [(f.name, f.type) for f in t.schema] for t in TABLES} == DOCUMENTED


def test_rows_of_each_table_round_trip_to_arrow() -> None:
    observation = Observation("DU1", OPTION, -3.0, None, 1.25, Source.SNAPSHOT, TS)
    change = StrategyChange(OPTION, "momentum", 2, True, TS, "cli")
    attempt = QueueAttempt(1234, "DU1", "failed", 3, "timeout", TS)

    assert POSITION_UPDATES.unpack(POSITION_UPDATES.pack([observation])).to_pylist() == [
        dict(account="DU1", conid=1234, symbol="SPY", sec_type="OPT", expiry="20240621", strike=500.0,
             right="C", currency="USD", position=-3.0, avg_cost=None, market_price=1.25, source="snapshot",
             event_ts=TS, data_type=None, multiplier=100.0 if OPTION.multiplier else None,
             **dict.fromkeys(VALUE_COLUMNS + QUOTE_COLUMNS + GREEK_COLUMNS))
    ]  # fmt: skip
    assert ACTIVE_STRATEGIES.unpack(ACTIVE_STRATEGIES.pack([change])).to_pylist()[0]["exchange"] == "CBOE"
    assert POSITION_QUEUE.unpack(POSITION_QUEUE.pack([attempt])).to_pylist() == [
        dict(conid=1234, account="DU1", outcome="failed", attempt=3, error="timeout", event_ts=TS)
    ]


def test_what_a_position_is_worth_its_quote_and_greeks_round_trip_as_plain_columns() -> None:
    option = Contract(1234, "SPY", "OPT", "20240621", 500.0, "C", multiplier="100")
    observation = Observation(
        "DU1", option, -3.0, 120.0, 1.25, Source.STREAM, TS, DataType.DELAYED,
        Value(-375.0, -15.0, 0.0, -6.0), Quote(1.2, 1.3, 1.25, 10.0, 12.0),
        Greeks(0.21, 0.55, 0.04, 0.3, -0.05, 501.5),
    )  # fmt: skip

    (row,) = POSITION_UPDATES.unpack(POSITION_UPDATES.pack([observation])).to_pylist()

    assert (row["data_type"], row["multiplier"], row["market_value"], row["daily_pnl"]) == (
        "delayed",
        100,
        -375,
        -6,
    )
    assert (row["bid"], row["ask_size"], row["implied_vol"], row["und_price"]) == (1.2, 12.0, 0.21, 501.5)


def test_an_aware_timestamp_in_another_zone_is_stored_as_the_same_instant_in_utc() -> None:
    tokyo = TS.astimezone(timezone(timedelta(hours=9)))
    attempt = QueueAttempt(1, "DU1", "success", 1, "", tokyo)
    assert POSITION_QUEUE.unpack(POSITION_QUEUE.pack([attempt])).column("event_ts").to_pylist() == [TS]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            Observation("DU1", OPTION, "ten", None, None, Source.POLL, TS),
            r"position_updates\.position = 'ten'",
        ),
        (
            Observation("DU1", OPTION, 1.0, None, None, Source.POLL, TS.replace(tzinfo=None)),
            "has no timezone",
        ),
        (Observation("DU1", None, 1.0, None, None, Source.POLL, TS), "not a well-formed Observation"),
        (Observation("DU1", OPTION, object(), None, None, Source.POLL, TS), "cannot be journaled"),
    ],
)
def test_a_bad_row_is_refused_naming_table_column_and_value(row: Observation, expected: str) -> None:
    with pytest.raises(LakeRowError, match=expected):
        POSITION_UPDATES.unpack(POSITION_UPDATES.pack([row]))


def test_rows_are_split_by_table_in_order_and_a_foreign_row_is_refused() -> None:
    first = QueueAttempt(1, "DU1", "success", 1, "", TS)
    second = QueueAttempt(2, "DU1", "success", 1, "", TS)
    observation = Observation("DU1", OPTION, 1.0, None, None, Source.POLL, TS)

    assert split_by_table([first, observation, second]) == {
        POSITION_QUEUE: [first, second],
        POSITION_UPDATES: [observation],
    }
    with pytest.raises(LakeRowError, match="row 1 is a dict"):
        split_by_table([first, {"conid": 1}])
    with pytest.raises(LakeRowError, match="rows must be a tuple of lake rows, not a Observation"):
        split_by_table(observation)  # type: ignore[arg-type]
    with pytest.raises(LakeRowError, match="unknown lake table 'nope'"):
        table_named("nope")


def test_records_journaled_before_a_column_was_appended_read_it_as_null() -> None:
    older = msgspec.msgpack.encode([[7, "DU1", "success", 1, ""]])  # without the last column, event_ts
    assert POSITION_QUEUE.unpack(older).to_pylist()[0]["event_ts"] is None
