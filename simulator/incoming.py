"""Reading client requests: fields by index from the front, trailing extras ignored."""

import msgspec

from possync.simulator.instruments import ContractQuery

CONTRACT_FIELDS = 12
"""A Contract argument: conId, symbol, secType, expiry, strike, right, multiplier, exchange,
primaryExchange, currency, localSymbol, tradingClass."""

_RIGHTS = {"CALL": "C", "PUT": "P"}


class BadRequest(Exception):
    """A known request whose fields cannot be read; the client that sent it is not speaking the protocol."""


class MarketDataRequest(msgspec.Struct, frozen=True):
    """A reqMktData: which contract, for which reqId, streaming or one snapshot."""

    req_id: int
    contract: ContractQuery
    snapshot: bool


def integer(fields: list[str], index: int) -> int:
    """Field `index` as an int ("" reads as 0); BadRequest when it is missing or not a number."""
    try:
        return int(fields[index] or 0)
    except (IndexError, ValueError):
        raise BadRequest(f"field {index} of {fields[:4]}... is not an integer") from None


def text(fields: list[str], index: int) -> str:
    """Field `index` as text; BadRequest when the message is too short."""
    try:
        return fields[index]
    except IndexError:
        raise BadRequest(f"message {fields[:4]}... has no field {index}") from None


def contract(fields: list[str], start: int) -> ContractQuery:
    """The 12 contract fields starting at `start`."""
    if len(fields) < start + CONTRACT_FIELDS:
        raise BadRequest(f"message {fields[:4]}... is too short for a contract at field {start}")
    _, symbol, sec_type, expiry, strike, right, multiplier, exchange, _, currency, local, trading_class = (
        fields[start : start + CONTRACT_FIELDS]
    )
    try:
        strike_value = float(strike or 0)
    except ValueError:
        raise BadRequest(f"strike {strike!r} is not a number") from None
    return ContractQuery(
        conid=integer(fields, start),
        symbol=symbol.upper(),
        sec_type=sec_type.upper(),
        expiry=expiry,
        strike=strike_value,
        right=_RIGHTS.get(right.upper(), right.upper()),
        multiplier=multiplier,
        exchange=exchange.upper(),
        currency=currency.upper(),
        local_symbol=local,
        trading_class=trading_class,
    )


def market_data(fields: list[str]) -> MarketDataRequest:
    """reqMktData: `1, 11, reqId, <contract>, [BAG legs], deltaNeutral, genericTicks, snapshot, ...`."""
    query = contract(fields, 3)
    index = 3 + CONTRACT_FIELDS
    if query.sec_type == "BAG":
        index += 1 + 4 * integer(fields, index)
    index += 1 + (3 if text(fields, index) == "1" else 0)  # delta-neutral flag and its contract
    return MarketDataRequest(
        req_id=integer(fields, 2), contract=query, snapshot=text(fields, index + 1) == "1"
    )
