"""The positions held now, read from what the IB client already holds: no request, no line."""

from typing import Any

from possync.actors.gateway._client import IbClient
from possync.actors.gateway._convert import from_ib, price
from possync.messages.domain import utc_now
from possync.messages.poller import HeldPosition, PositionsReply


def positions_reply(
    client: IbClient, ib: Any, conids: tuple[int, ...] | None, account: str
) -> PositionsReply:
    """The non-zero positions (of `conids`, or all; of `account`, or all when "") with the portfolio
    updates' market prices; `complete` once the positions download has ended. In the loop thread."""
    wanted = None if conids is None else set(conids)
    prices = {(item.account, item.contract.conId): item.marketPrice for item in ib.portfolio()}
    held = tuple(
        HeldPosition(
            account=p.account,
            contract=from_ib(p.contract),
            position=float(p.position),
            avg_cost=float(p.avgCost),
            market_price=price(prices.get((p.account, p.contract.conId))),
        )
        for p in ib.positions(account)
        if p.position and (wanted is None or p.contract.conId in wanted)
    )
    accounts = (account,) if account else tuple(ib.managedAccounts())
    return PositionsReply(client.positions_complete(ib), accounts, held, utc_now())
