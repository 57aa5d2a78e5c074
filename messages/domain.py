"""Shared domain types: a contract's identity, one observation of a position, and what a line streams."""

from datetime import UTC, datetime
from enum import StrEnum

import msgspec


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime (the lake refuses naive timestamps)."""
    return datetime.now(UTC)


class Source(StrEnum):
    """Where an observation came from."""

    STREAM = "stream"
    POLL = "poll"
    SNAPSHOT = "snapshot"
    RECONCILE = "reconcile"
    PNL = "pnl"


class DataType(StrEnum):
    """What kind of market price a row holds: the market data type the gateway served (reqMarketDataType).

    live (1): real time; frozen (2): the last values at the close of a closed market; delayed (3): 15-20
    minutes late, free, no subscription needed; delayed_frozen (4): the last delayed values at the close.
    """

    LIVE = "live"
    FROZEN = "frozen"
    DELAYED = "delayed"
    DELAYED_FROZEN = "delayed_frozen"

    @classmethod
    def of(cls, code: int) -> "DataType | None":
        """The type of IB's market data type code (1-4); None for anything else."""
        return _DATA_TYPES.get(code)


_DATA_TYPES = {1: DataType.LIVE, 2: DataType.FROZEN, 3: DataType.DELAYED, 4: DataType.DELAYED_FROZEN}


class Quote(msgspec.Struct, frozen=True):
    """The top of the book a streamed line last showed: prices in the contract's currency, sizes in units
    of the contract (shares, contracts); None where the gateway sent none."""

    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None


class Greeks(msgspec.Struct, frozen=True):
    """An option's model computation as the gateway sends it (tickOptionComputation, model tick 13):
    implied volatility (a fraction, 0.25 = 25 %), delta, gamma, vega (per volatility point), theta (per
    day) and the underlying's price; None where the gateway did not compute it."""

    implied_vol: float | None = None
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    und_price: float | None = None


class Value(msgspec.Struct, frozen=True):
    """What a position is worth: market value (position x price x multiplier) and unrealized, realized and
    daily P&L, in the account's base currency as IB reports them; None where the channel gave none."""

    market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None
    daily_pnl: float | None = None


class Contract(msgspec.Struct, frozen=True):
    """A contract's identity; `conid` is IB's unique contract id, the rest describes it."""

    conid: int
    symbol: str
    sec_type: str
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    currency: str = "USD"
    exchange: str = "SMART"
    multiplier: str = ""


class Observation(msgspec.Struct, frozen=True):
    """One observation of a position, as it goes to `position_updates`.

    `avg_cost` and `market_price` are None when the channel did not report them; `event_ts` is UTC.
    `data_type` says what kind of price `market_price` is (None for a channel that carries no market data
    type); `value` what the position is worth; `quote` and `greeks` what a streamed line showed (options
    only for greeks).
    """

    account: str
    contract: Contract
    position: float
    avg_cost: float | None
    market_price: float | None
    source: Source
    event_ts: datetime
    data_type: DataType | None = None
    value: Value | None = None
    quote: Quote | None = None
    greeks: Greeks | None = None


class Tick(msgspec.Struct, frozen=True):
    """What one read from the gateway left on a streamed line: its market price and time, the quote, the
    option's model greeks and the market data type served (the gateway's loop thread → the line's feed)."""

    market_price: float | None
    event_ts: datetime
    quote: Quote | None = None
    greeks: Greeks | None = None
    data_type: DataType | None = None
