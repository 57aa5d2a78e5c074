"""Shared domain types: a contract's identity and one observation of a position."""

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
    """

    account: str
    contract: Contract
    position: float
    avg_cost: float | None
    market_price: float | None
    source: Source
    event_ts: datetime
