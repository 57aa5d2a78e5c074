"""The positions held now, read from what the IB client already holds: no request, no line."""

from typing import Any

from possync.actors.gateway._client import IbClient
from possync.actors.gateway._convert import from_ib, implied_price, price
from possync.actors.gateway._pnl import PnlChannel, unset_to_none
from possync.messages.domain import Value, utc_now
from possync.messages.poller import HeldPosition, PositionsReply


def positions_reply(
    client: IbClient, ib: Any, conids: tuple[int, ...] | None, account: str, pnl: PnlChannel | None = None
) -> PositionsReply:
    """The non-zero positions (of `conids`, or all; of `account`, or all when "") with the portfolio
    updates' market prices and values (else the P&L channel's); `complete` once the positions download
    has ended. In the loop thread."""
    wanted = None if conids is None else set(conids)
    portfolio = {(item.account, item.contract.conId): item for item in ib.portfolio()}
    held = tuple(
        _held(p, portfolio.get((p.account, p.contract.conId)), pnl)
        for p in ib.positions(account)
        if p.position and (wanted is None or p.contract.conId in wanted)
    )
    accounts = (account,) if account else tuple(ib.managedAccounts())
    return PositionsReply(client.positions_complete(ib), accounts, held, utc_now())


def _held(position: Any, item: Any, pnl: PnlChannel | None) -> HeldPosition:
    """One position with its price and value: portfolio updates first, the P&L channel's when none."""
    contract = from_ib(position.contract)
    subscribed = pnl is not None and pnl.subscribed(position.account, contract.conid)
    value = portfolio_value(item)
    market_price = price(item.marketPrice) if item is not None else None
    if value is None and subscribed:
        value = pnl.value(position.account, contract.conid)  # type: ignore[union-attr]
        if value is not None and market_price is None:
            market_price = implied_price(value.market_value, float(position.position), contract.multiplier)
    return HeldPosition(
        position.account, contract, float(position.position), float(position.avgCost), market_price,
        value=value, pnl=subscribed,
    )  # fmt: skip


def portfolio_value(item: Any) -> Value | None:
    """What a portfolio update says a position is worth (None without one); no daily P&L there."""
    if item is None:
        return None
    return Value(
        market_value=unset_to_none(item.marketValue),
        unrealized_pnl=unset_to_none(item.unrealizedPNL),
        realized_pnl=unset_to_none(item.realizedPNL),
    )
