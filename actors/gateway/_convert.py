"""Conversions between the IB client's objects and possync's messages (pure functions)."""

import math
from typing import Any

from possync.messages.domain import Contract, utc_now
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
    return None if value is None or math.isnan(value) else float(value)
