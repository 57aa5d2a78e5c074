"""Conversions between the IB client's objects and possync's messages (pure functions)."""

from typing import Any

from possync.messages.domain import Contract, DataType, Greeks, Quote, Tick, utc_now
from possync.messages.routing import PositionChanged


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
    return None if value is None or value != value else float(value)  # NaN is the one value != itself


def implied_price(market_value: float | None, position: float, multiplier: str) -> float | None:
    """The price a market value implies: value / (position x multiplier); None without a value or position."""
    try:
        units = position * (float(multiplier) if multiplier else 1.0)
    except ValueError:
        units = position
    return market_value / units if units and market_value is not None else None


def tick_of(ticker: Any) -> Tick:
    """What the client's ticker of a streamed line holds after a read from the gateway (this runs for
    every ticker of every read, in the loop thread: plain expressions, no helper calls per field)."""
    t = ticker
    bid, ask, last, bid_size, ask_size = t.bid, t.ask, t.last, t.bidSize, t.askSize
    quote = Quote(
        None if bid is None or bid != bid or bid == -1.0 else float(bid),
        None if ask is None or ask != ask or ask == -1.0 else float(ask),
        None if last is None or last != last or last == -1.0 else float(last),
        None if bid_size is None or bid_size != bid_size else float(bid_size),
        None if ask_size is None or ask_size != ask_size else float(ask_size),
    )
    market_price = t.marketPrice()
    return Tick(
        None if market_price is None or market_price != market_price else float(market_price),
        t.time or utc_now(),
        quote,
        None if t.modelGreeks is None else greeks_of(t.modelGreeks),
        _DATA_TYPES.get(getattr(t, "marketDataType", 0)),
    )


def greeks_of(computation: Any) -> Greeks | None:
    """An option computation as `Greeks` (None when there is none)."""
    if computation is None:
        return None
    c = computation
    return Greeks(
        _computed(c.impliedVol),
        _computed(c.delta),
        _computed(c.gamma),
        _computed(c.vega),
        _computed(c.theta),
        _computed(c.undPrice),
    )


def _computed(value: float | None) -> float | None:
    """None for a value the gateway did not compute (None, NaN, or its -1 / -2 markers)."""
    return None if value is None or value != value or value == -1.0 or value == -2.0 else float(value)


_DATA_TYPES = {code: DataType.of(code) for code in (1, 2, 3, 4)}
