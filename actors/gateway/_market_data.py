"""The market data type of a connection (reqMarketDataType), and what the gateway's refusals mean.

IB applies a market data type to every later request of the connection, and serves live data wherever
it is permitted whatever type was asked ("live wins": `simulator/README.md`, IB's market_data_type page).
So the simplest correct fallback needs no per-request switch: with `streams.delayed_fallback` on, the
connection asks for delayed data (type 3, or 4 for frozen) once, right after connecting; a permitted
contract still gets live (or frozen) data, and one without live permission gets delayed data instead of
a 354. Every row says which it got (`marketDataType` → `Tick.data_type`).
"""

from typing import Literal

MarketDataType = Literal["live", "frozen", "delayed", "delayed_frozen"]
CODES: dict[MarketDataType, int] = {"live": 1, "frozen": 2, "delayed": 3, "delayed_frozen": 4}
_DELAYED = {1: 3, 2: 4}
"""The type that also serves delayed data where live is not permitted, of each live type."""

WARNINGS = frozenset({10090, 10167})
"""Errors about a subscription that leave it working: 10090 (part of the data is not subscribed, the rest
streams), 10167 (delayed data is shown instead)."""


def describe_market_data(asked: MarketDataType, delayed_fallback: bool) -> str:
    """What the connection asks for, as /status says it: "live (delayed where not permitted)"."""
    code = connection_type(asked, delayed_fallback)
    if code == CODES[asked]:
        return asked
    return f"{asked} ({_NAMES[code].replace('_', ' ')} where not permitted)"


_NAMES = {code: name for name, code in CODES.items()}


def connection_type(asked: MarketDataType, delayed_fallback: bool) -> int:
    """The reqMarketDataType code to send once per connection for `ib.market_data_type` = `asked`."""
    code = CODES[asked]
    return _DELAYED.get(code, code) if delayed_fallback else code
