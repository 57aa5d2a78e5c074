"""What a reqMktData gets, as the real gateway decides it (sources in README.md).

Live permitted: live data (market data type 1), whatever type the client asked for ("live wins"); with
a 10090 warning first when the contract is an option whose underlying has no live permission, and
error 10197 instead while a competing live session holds the data. No live permission: with market
data type 3 or 4 asked for and delayed data available, warning 10167 and delayed data; type 3/4
without delayed data, error 10168; type 1 or 2, error 354 (its text says whether delayed data exists).
The texts are IB's (`protocol.ERROR_TEXT`); 354 and 10090 get the gateway's suffix (`_suffix`).
"""

from typing import NamedTuple

from possync.simulator.entitlements import Entitlements
from possync.simulator.instruments import DemoContract
from possync.simulator.protocol import error_text

DELAYED_TYPES = frozenset({3, 4})
"""Market data types with which a client accepts delayed data where live is not permitted."""
FROZEN_TYPES = frozenset({2, 4})
"""Market data types with which a client accepts the last values of a closed market (frozen data)."""
DATA_TYPES = frozenset({1, 2, 3, 4})

NOT_SUBSCRIBED = 354
API_SUBSCRIPTION = 10089
PARTLY_SUBSCRIBED = 10090
SHOWING_DELAYED = 10167
DELAYED_NOT_ENABLED = 10168
COMPETING_SESSION = 10197

_LISTINGS = {"NASDAQ": "NASDAQ.NMS"}
"""How the suffix names a primary exchange's feed where it differs from the exchange's name."""


class Refusal(NamedTuple):
    """The request is refused with an error: it holds no line and gets no data."""

    code: int
    text: str


class Grant(NamedTuple):
    """The request is served, live or delayed, after the warnings (code, text) listed."""

    live: bool
    warnings: tuple[tuple[int, str], ...] = ()


def decide(
    contract: DemoContract,
    underlying: DemoContract | None,
    entitlements: Entitlements,
    data_type: int,
    competing: bool,
) -> Refusal | Grant:
    """What a reqMktData for `contract` gets from a client in market data type `data_type`."""
    permitted = entitlements.of(contract)
    if permitted.live:
        if competing:
            return Refusal(COMPETING_SESSION, error_text(COMPETING_SESSION))
        return Grant(live=True, warnings=_partial(underlying, entitlements))
    if data_type in DELAYED_TYPES:
        if permitted.delayed:
            return Grant(live=False, warnings=((SHOWING_DELAYED, error_text(SHOWING_DELAYED)),))
        return Refusal(DELAYED_NOT_ENABLED, error_text(DELAYED_NOT_ENABLED))
    return Refusal(NOT_SUBSCRIBED, error_text(NOT_SUBSCRIBED) + _suffix(contract, permitted.delayed))


def _partial(underlying: DemoContract | None, entitlements: Entitlements) -> tuple[tuple[int, str], ...]:
    """10090 for an option whose underlying is not permitted live (the greeks need the underlying's data)."""
    if underlying is None:
        return ()
    permitted = entitlements.of(underlying)
    if permitted.live:
        return ()
    return ((PARTLY_SUBSCRIBED, error_text(PARTLY_SUBSCRIBED) + _suffix(underlying, permitted.delayed)),)


def _suffix(contract: DemoContract, delayed: bool) -> str:
    """What the gateway appends: whether delayed data exists, and the missing feed (`SPY ARCA/TOP/ALL`)."""
    availability = "Delayed market data is available." if delayed else "Delayed market data is not available."
    if contract.sec_type == "OPT":
        feed = "OPRA"
    else:
        feed = _LISTINGS.get(contract.primary_exchange, contract.primary_exchange)
    return f"{availability}{contract.symbol} {feed}/TOP/ALL"


def served_type(live: bool, frozen_ok: bool, is_open: bool) -> int:
    """The market data type a subscription gets: live 1 / delayed 3, frozen 2 / delayed frozen 4 when its
    market is closed and the client asked for frozen data (type 2 or 4)."""
    if is_open or not frozen_ok:
        return 1 if live else 3
    return 2 if live else 4
