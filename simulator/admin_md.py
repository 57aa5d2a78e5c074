"""The admin endpoint's market-data routes (merged into `admin.ROUTES`).

GET /entitlements; POST /entitlements {"conids": [265598], "live": false, "delayed": true};
GET /market; POST /market {"open": false} / {"open": true} / {"open": null} (null: follow the trading
hours), optionally with "conids": [...]; GET /clock; POST /clock {"offset_s": 3600} or
{"at": "2026-12-05T12:00:00-05:00"}; POST /competing-session {"on": true}.
A bad body raises ValueError, which the admin endpoint answers with a 400 naming the problem.
"""

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway

Conid = Annotated[int, msgspec.Meta(ge=1)]


class EntitlementsBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /entitlements: the conids, and their live permission and delayed availability (omitted: kept)."""

    conids: list[Conid]
    live: bool | None = None
    delayed: bool | None = None


class MarketBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /market: open (true), closed (false) or by the trading hours (null); every market or `conids`."""

    open: bool | None
    conids: list[Conid] | None = None


class ClockBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /clock: the offset from the real time (s), or the time it is now."""

    offset_s: float | None = None
    at: datetime | None = None


class CompetingBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /competing-session: whether another login holds the live data."""

    on: bool


S = TypeVar("S", bound=msgspec.Struct)


def _decode(body: bytes, kind: type[S], example: str) -> S:
    """The JSON body as `kind`; ValueError naming the problem and a valid example."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise ValueError(f"bad JSON body ({exc}); send e.g. {example}") from None


def _entitlements(gateway: "Gateway", _body: bytes) -> Any:
    """GET /entitlements."""
    return gateway.access.entitlement_views()


def _set_entitlements(gateway: "Gateway", body: bytes) -> Any:
    """POST /entitlements {"conids": [265598], "live": false, "delayed": true}."""
    request = _decode(body, EntitlementsBody, '{"conids": [265598], "live": false, "delayed": true}')
    if request.live is None and request.delayed is None:
        raise ValueError('give "live" and/or "delayed" (true or false) for the conids')
    return gateway.access.set_entitlements(request.conids, request.live, request.delayed)


def _market(gateway: "Gateway", _body: bytes) -> Any:
    """GET /market and GET /clock."""
    return gateway.access.market_view()


def _set_market(gateway: "Gateway", body: bytes) -> Any:
    """POST /market {"open": false, "conids": optional}."""
    request = _decode(body, MarketBody, '{"open": false} (or true, or null to follow the trading hours)')
    return gateway.access.set_market(request.open, request.conids)


def _set_clock(gateway: "Gateway", body: bytes) -> Any:
    """POST /clock {"offset_s": 3600} or {"at": "2026-12-05T12:00:00-05:00"}."""
    request = _decode(body, ClockBody, '{"offset_s": 3600} or {"at": "2026-12-05T12:00:00-05:00"}')
    return gateway.access.set_clock(request.offset_s, request.at)


def _competing(gateway: "Gateway", body: bytes) -> Any:
    """POST /competing-session {"on": true}."""
    request = _decode(body, CompetingBody, '{"on": true}')
    return {"on": request.on, "silenced": gateway.access.set_competing(request.on)}


MD_ROUTES: dict[tuple[str, str], Callable[["Gateway", bytes], Any]] = {
    ("GET", "/entitlements"): _entitlements,
    ("POST", "/entitlements"): _set_entitlements,
    ("GET", "/market"): _market,
    ("POST", "/market"): _set_market,
    ("GET", "/clock"): _market,
    ("POST", "/clock"): _set_clock,
    ("POST", "/competing-session"): _competing,
}
"""The market-data endpoints: (method, path) -> handler(gateway, body) returning what is sent as JSON."""
