"""Conversions between the IB client's objects and possync's messages (pure functions)."""

import math
from typing import Any

from possync.messages.domain import Contract, DataType, Greeks, Quote, Tick, utc_now
from possync.messages.routing import PositionChanged

_NOT_COMPUTED = (-1.0, -2.0)
"""What the gateway sends for a value of an option computation it did not compute (ib_insync maps most
of them to None, but not vega and theta)."""


def from_ib(contract: Any) -> Contract:
    """Our description of an IB client's contract (as the positions feed reports it)."""
    return Contract(
        conid=contract.conId,
        symbol=contract.symbol,
        sec_type=contract.secType,
        expiry=contract.lastTradeDateOrContractMonth,
        strike=float(contract.strike or 0.0),
        right=contract.right,
        currency=contract.currency,
        exchange=contract.exchange or contract.primaryExchange or "SMART",
        multiplier=contract.multiplier,
    )


def position_changed(position: Any) -> PositionChanged:
    """An IB client's position as the routing contract's message."""
    return PositionChanged(
        account=position.account,
        contract=from_ib(position.contract),
        position=float(position.position),
        avg_cost=float(position.avgCost),
        event_ts=utc_now(),
    )


def price(value: float | None) -> float | None:
    """A price as a float, or None for the client's "no price" (None or NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def implied_price(market_value: float | None, position: float, multiplier: str) -> float | None:
    """The price a market value implies: value / (position x multiplier); None without a value or position."""
    try:
        units = position * (float(multiplier) if multiplier else 1.0)
    except ValueError:
        units = position
    return market_value / units if units and market_value is not None else None


def quote_price(value: float | None) -> float | None:
    """A bid/ask/last: None for no price (None, NaN, or the -1 of a closed market's empty book)."""
    value = price(value)
    return None if value is None or value == -1.0 else value


def tick_of(ticker: Any) -> Tick:
    """What the client's ticker of a streamed line holds after a read from the gateway."""
    quote = Quote(
        bid=quote_price(ticker.bid),
        ask=quote_price(ticker.ask),
        last=quote_price(ticker.last),
        bid_size=price(ticker.bidSize),
        ask_size=price(ticker.askSize),
    )
    return Tick(
        market_price=price(ticker.marketPrice()),
        event_ts=ticker.time or utc_now(),
        quote=quote,
        greeks=greeks_of(ticker.modelGreeks),
        data_type=DataType.of(getattr(ticker, "marketDataType", 0) or 0),
    )


def greeks_of(computation: Any) -> Greeks | None:
    """An option computation as `Greeks` (None when there is none)."""
    if computation is None:
        return None
    c = computation
    values = (c.impliedVol, c.delta, c.gamma, c.vega, c.theta, c.undPrice)
    implied_vol, delta, gamma, vega, theta, und_price = (_computed(v) for v in values)
    return Greeks(implied_vol, delta, gamma, vega, theta, und_price)


def _computed(value: float | None) -> float | None:
    value = price(value)
    return None if value is None or value in _NOT_COMPUTED else value
