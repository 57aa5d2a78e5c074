"""The lake's tables: for each, its name, Arrow schema, row type and how a row becomes a record.

The writer is generic over these: any table here can be written through it. A row's Python type names its
table (`Observation` → `position_updates`, `StrategyChange` → `active_strategies`, `QueueAttempt` →
`position_queue`). A table packs rows into table-shaped msgpack records (what the journal stores) and
unpacks records into Arrow. The writer packs and unpacks on receipt, before journaling, so a bad row is
rejected at once with its table, column and value (instead of failing every later commit attempt), and a
replayed record converts exactly as it did when it was accepted.

Schemas (every column nullable; timestamps are microseconds, UTC):
- position_updates: account, conid int64, symbol, sec_type, expiry, strike float64, right, currency,
  position float64, avg_cost float64, market_price float64, source, event_ts, then (added later: older
  rows read them as null) data_type, multiplier float64, market_value, unrealized_pnl, realized_pnl,
  daily_pnl, bid, ask, last, bid_size, ask_size, implied_vol, delta, gamma, vega, theta, und_price (all
  float64) — append-only history (README, "Data", says each column's unit and source).
- active_strategies: conid int64, symbol, sec_type, expiry, strike float64, right, currency, exchange,
  strategy_id, priority int64, active bool, changed_ts, changed_by, account — an append-only event log; the
  latest row per conid (by changed_ts) among those addressed to a service (account "" or its own) is the
  current state there.
- position_queue: conid int64, account, outcome, attempt int64, error, event_ts — one row per processing
  attempt of a queued position.
Unnamed types are strings. To evolve a schema, append a column at the end of its schema and record: appends
merge it into existing tables, and records journaled before (one value short) read it as null.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import msgspec
import pyarrow as pa

from possync.messages.domain import Contract, Greeks, Observation, Quote, Value
from possync.messages.lake import QueueAttempt, StrategyChange

UTC_MICROS = pa.timestamp("us", tz="UTC")


class LakeRowError(ValueError):
    """A row cannot go to the lake; the message names its table, row, column and value, and the fix."""


@dataclass(frozen=True, eq=False)
class LakeTable:
    """One Delta table: its directory name, schema, row type and the row → record conversion.

    Compared and hashed by identity: each table is one module constant (hashing a schema is slow).
    """

    name: str
    row_type: type
    schema: pa.Schema
    record: Callable[[Any], tuple]

    def pack(self, rows: Sequence[Any]) -> bytes:
        """The rows as msgpack records (one tuple per row, in schema order): what the journal stores.

        Raises `LakeRowError` for a row that is not a well-formed `row_type` or has a naive timestamp.
        """
        return self._encode(self._records(rows))

    def pack_and_convert(self, rows: Sequence[Any]) -> tuple[bytes, pa.Table]:
        """`pack(rows)` and its Arrow table (`unpack` of it), from one pass over the rows: the records
        convert to Arrow as they are, without the round trip through msgpack (the writer's receipt path).

        Raises `LakeRowError` as `pack` and `unpack` do.
        """
        records = self._records(rows)
        return self._encode(records), self._arrow(records)

    def _records(self, rows: Sequence[Any]) -> list[tuple]:
        try:
            return [self.record(row) for row in rows]
        except (AttributeError, TypeError):
            return [self._record_of(index, row) for index, row in enumerate(rows)]  # names the bad row

    def _encode(self, records: list[tuple]) -> bytes:
        try:
            return _ENCODER.encode(records)
        except (msgspec.EncodeError, TypeError, OverflowError) as error:
            raise LakeRowError(f"{self.name}: a value cannot be journaled: {error}") from error

    def unpack(self, packed: bytes) -> pa.Table:
        """The Arrow table of packed records; raises `LakeRowError` naming the first value of a wrong type.

        The writer unpacks on receipt as well as on replay, so what it accepts is exactly what it can commit.
        """
        records = _RECORDS.decode(packed)
        width = len(self.schema)
        if any(len(record) != width for record in records):  # journaled before columns were appended
            records = [record + (None,) * (width - len(record)) for record in records]
        return self._arrow(records)

    def _arrow(self, records: list[tuple]) -> pa.Table:
        """Full-width records as Arrow; `LakeRowError` naming the first value of a wrong type."""
        try:  # one conversion for all columns: ~3x cheaper than one per column, for 1 row or 1000
            return pa.Table.from_struct_array(pa.array(records, type=self._struct))
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return self._unpack_by_column(records)  # slower, and names the first bad value

    def _unpack_by_column(self, records: list[tuple]) -> pa.Table:
        """`unpack`, one column at a time: raises `LakeRowError` naming the first value of a wrong type."""
        columns = list(zip(*records, strict=True))
        missing = len(self.schema) - len(columns)  # records journaled before columns were appended
        columns += [(None,) * len(records)] * missing
        arrays = [self._column(f, values) for f, values in zip(self.schema, columns, strict=True)]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    @cached_property
    def _struct(self) -> pa.StructType:
        """The schema as one struct type (built once: building it costs as much as converting a row)."""
        return pa.struct(self.schema)

    def _record_of(self, index: int, row: Any) -> tuple:
        try:
            return self.record(row)
        except NaiveTimestampError as error:
            raise LakeRowError(
                f"{self.name}.{error.column} = {error.value!r} (row {index}) has no timezone: pass a "
                "timezone-aware UTC datetime, e.g. messages.domain.utc_now()"
            ) from None
        except (AttributeError, TypeError) as error:
            raise LakeRowError(
                f"{self.name}: row {index} ({row!r}) is not a well-formed {self.row_type.__name__}: {error}"
            ) from error

    def _column(self, column: pa.Field, values: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(values, type=column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as error:
            index, value = _first_unconvertible(values, column.type)
            raise LakeRowError(
                f"{self.name}.{column.name} = {value!r} (row {index}) is not a valid {column.type}: {error}; "
                f"pass a {column.type} value (or None)"
            ) from error


_ENCODER = msgspec.msgpack.Encoder()
_RECORDS = msgspec.msgpack.Decoder(list[tuple])
"""Records decode as tuples: pyarrow converts a tuple (not a list) to a struct value."""


def _first_unconvertible(values: Sequence[Any], type_: pa.DataType) -> tuple[int, Any]:
    """The index and value of the first element pyarrow refuses as `type_` (the error path only)."""
    for index, value in enumerate(values):
        try:
            pa.array([value], type=type_)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            return index, value
    return -1, None


class NaiveTimestampError(TypeError):
    """A timestamp without a timezone in a row (the record builders raise it; the table names the row)."""

    def __init__(self, column: str, value: datetime) -> None:
        super().__init__(f"{column} = {value!r} has no timezone")
        self.column, self.value = column, value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_micros(value: Any, column: str) -> Any:
    """An aware datetime as what its column stores: microseconds since the epoch, the same instant in UTC
    (Arrow converts an int ~1 µs faster per row than a datetime it must ask for its offset); None and
    anything else as they are (Arrow names what it refuses); `NaiveTimestampError` for a naive datetime."""
    try:
        return (value - _EPOCH) // _MICROSECOND
    except TypeError:
        if isinstance(value, datetime):
            raise NaiveTimestampError(column, value) from None
        return value


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, type_, nullable=True) for name, type_ in columns])


CONTRACT_COLUMNS = (
    ("conid", pa.int64()),
    ("symbol", pa.string()),
    ("sec_type", pa.string()),
    ("expiry", pa.string()),
    ("strike", pa.float64()),
    ("right", pa.string()),
    ("currency", pa.string()),
)


def _contract_values(contract: Contract) -> tuple:
    """A contract's values for CONTRACT_COLUMNS, in order."""
    c = contract
    return (c.conid, c.symbol, c.sec_type, c.expiry, c.strike, c.right, c.currency)


VALUE_COLUMNS = ("market_value", "unrealized_pnl", "realized_pnl", "daily_pnl")
QUOTE_COLUMNS = ("bid", "ask", "last", "bid_size", "ask_size")
GREEK_COLUMNS = ("implied_vol", "delta", "gamma", "vega", "theta", "und_price")
_NO_VALUE, _NO_QUOTE, _NO_GREEKS = Value(), Quote(), Greeks()


def multiplier(text: str) -> float | None:
    """A contract's multiplier as a number ("100" → 100.0); None when IB gave none or not a number."""
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _observation_record(o: Observation) -> tuple:
    """One flat tuple, no intermediate ones (this runs for every row the service writes); the enums are
    `StrEnum`s, strings already."""
    c, v, q, g = o.contract, o.value or _NO_VALUE, o.quote or _NO_QUOTE, o.greeks or _NO_GREEKS
    m = c.multiplier
    return (
        o.account, c.conid, c.symbol, c.sec_type, c.expiry, c.strike, c.right, c.currency,
        o.position, o.avg_cost, o.market_price, o.source, utc_micros(o.event_ts, "event_ts"),
        o.data_type,
        _MULTIPLIERS[m] if m in _MULTIPLIERS else multiplier(m),
        v.market_value, v.unrealized_pnl, v.realized_pnl, v.daily_pnl,
        q.bid, q.ask, q.last, q.bid_size, q.ask_size,
        g.implied_vol, g.delta, g.gamma, g.vega, g.theta, g.und_price,
    )  # fmt: skip


_MULTIPLIERS: dict[str, float | None] = {"": None, "1": 1.0, "100": 100.0, "10": 10.0, "1000": 1000.0}
"""The multipliers IB sends most, parsed once."""


POSITION_UPDATES = LakeTable(
    name="position_updates",
    row_type=Observation,
    schema=_schema(
        ("account", pa.string()),
        *CONTRACT_COLUMNS,
        ("position", pa.float64()),
        ("avg_cost", pa.float64()),
        ("market_price", pa.float64()),
        ("source", pa.string()),
        ("event_ts", UTC_MICROS),
        ("data_type", pa.string()),
        ("multiplier", pa.float64()),
        *((name, pa.float64()) for name in (*VALUE_COLUMNS, *QUOTE_COLUMNS, *GREEK_COLUMNS)),
    ),
    record=_observation_record,
)

ACTIVE_STRATEGIES = LakeTable(
    name="active_strategies",
    row_type=StrategyChange,
    schema=_schema(
        *CONTRACT_COLUMNS,
        ("exchange", pa.string()),
        ("strategy_id", pa.string()),
        ("priority", pa.int64()),
        ("active", pa.bool_()),
        ("changed_ts", UTC_MICROS),
        ("changed_by", pa.string()),
        ("account", pa.string()),
    ),
    record=lambda s: (
        *_contract_values(s.contract),
        s.contract.exchange,
        s.strategy_id,
        s.priority,
        s.active,
        utc_micros(s.changed_ts, "changed_ts"),
        s.changed_by,
        s.account,
    ),
)

POSITION_QUEUE = LakeTable(
    name="position_queue",
    row_type=QueueAttempt,
    schema=_schema(
        ("conid", pa.int64()),
        ("account", pa.string()),
        ("outcome", pa.string()),
        ("attempt", pa.int64()),
        ("error", pa.string()),
        ("event_ts", UTC_MICROS),
    ),
    record=lambda q: (q.conid, q.account, q.outcome, q.attempt, q.error, utc_micros(q.event_ts, "event_ts")),
)

TABLES: tuple[LakeTable, ...] = (POSITION_UPDATES, ACTIVE_STRATEGIES, POSITION_QUEUE)
"""Every table of the lake, created under `lake.root` on the writer's first start."""

_BY_ROW_TYPE = {table.row_type: table for table in TABLES}
_BY_NAME = {table.name: table for table in TABLES}


def table_named(name: str) -> LakeTable:
    """The table called `name`; `LakeRowError` if there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LakeRowError(f"unknown lake table {name!r}: expected one of {', '.join(_BY_NAME)}") from None


def split_by_table(rows: Sequence[Any]) -> dict[LakeTable, list[Any]]:
    """Group rows by the table of their type, keeping their order; `LakeRowError` for a foreign row."""
    if not isinstance(rows, tuple | list):
        raise LakeRowError(f"rows must be a tuple of lake rows, not a {type(rows).__name__} ({rows!r})")
    kinds = {type(row) for row in rows}
    if len(kinds) == 1 and (only := _BY_ROW_TYPE.get(kinds.pop())) is not None:  # the usual message
        return {only: list(rows)}
    groups: dict[LakeTable, list[Any]] = {}
    for index, row in enumerate(rows):
        table = _BY_ROW_TYPE.get(type(row))
        if table is None:
            expected = ", ".join(t.row_type.__name__ for t in TABLES)
            raise LakeRowError(
                f"row {index} is a {type(row).__name__} ({row!r}): a lake row is one of {expected}"
            )
        groups.setdefault(table, []).append(row)
    return groups
