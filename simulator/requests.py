"""Answers to client requests, as a real gateway gives them; unknown requests are logged and ignored."""

import time
from typing import TYPE_CHECKING

from loguru import logger

from possync.simulator import incoming, outgoing, pnl
from possync.simulator.accounts import account_values
from possync.simulator.instruments import ContractQuery
from possync.simulator.mdrequest import answer, refuse, set_data_type
from possync.simulator.protocol import In

if TYPE_CHECKING:
    from possync.simulator.session import Session

_SILENT = frozenset(
    {In.CANCEL_ORDER, In.REQ_AUTO_OPEN_ORDERS, In.CANCEL_ACCOUNT_SUMMARY, In.CANCEL_ACCOUNT_UPDATES_MULTI}
)
"""Requests a real gateway does not answer (when nothing is wrong)."""


def handle_request(session: "Session", fields: list[str]) -> None:
    """Answer one request; raise incoming.BadRequest when a known request cannot be read."""
    match int(fields[0]):
        case In.REQ_MKT_DATA:
            _market_data(session, incoming.market_data(fields))
        case In.CANCEL_MKT_DATA:
            req_id = incoming.integer(fields, 2)
            if not session.gateway.market.cancel(session, req_id):
                logger.debug("{}: cancelMktData for {} which holds no line", session, req_id)
        case In.REQ_POSITIONS:
            _positions(session)
        case In.CANCEL_POSITIONS:
            session.positions_subscribed = False
        case In.REQ_ACCOUNT_UPDATES:
            _account_updates(session, incoming.text(fields, 2) == "1", incoming.text(fields, 3))
        case In.REQ_ACCOUNT_UPDATES_MULTI:
            _account_multi(session, incoming.integer(fields, 2), incoming.text(fields, 3))
        case In.REQ_ACCOUNT_SUMMARY:
            _account_summary(session, incoming.integer(fields, 2))
        case In.REQ_CONTRACT_DETAILS:
            _contract_details(session, incoming.integer(fields, 2), incoming.contract(fields, 3))
        case In.REQ_CURRENT_TIME:
            session.send(outgoing.current_time(session.gateway.access.clock.epoch()))
        case In.REQ_MARKET_DATA_TYPE:
            set_data_type(session, incoming.integer(fields, 2))
        case In.REQ_OPEN_ORDERS | In.REQ_ALL_OPEN_ORDERS:
            session.send(outgoing.open_order_end())
        case In.REQ_COMPLETED_ORDERS:
            session.send(outgoing.completed_orders_end())
        case In.REQ_EXECUTIONS:
            session.send(outgoing.execution_data_end(incoming.integer(fields, 2)))
        case In.REQ_IDS:
            session.send(outgoing.next_valid_id(session.gateway.next_order_id()))
        case In.REQ_MANAGED_ACCTS:
            session.send(outgoing.managed_accounts(session.gateway.accounts))
        case In.PLACE_ORDER:
            _place_order(session, incoming.integer(fields, 1))
        case In.REQ_PNL | In.CANCEL_PNL | In.REQ_PNL_SINGLE | In.CANCEL_PNL_SINGLE:
            pnl.handle(session, fields)
        case msg_id if msg_id in _SILENT:
            pass
        case msg_id:
            logger.info("{}: ignoring unsupported request {} {}", session, msg_id, fields[1:4])


def _market_data(session: "Session", request: incoming.MarketDataRequest) -> None:
    """Refuse with 322 (reqId in use), 321 (no exchange) or 200 (unknown), else answer (`mdrequest`)."""
    gateway = session.gateway
    req_id = request.req_id
    matches = gateway.portfolio.match(request.contract)
    gateway.counters.snapshots += request.snapshot
    if gateway.market.holds(session, req_id):
        refuse(session, req_id, 322)
    elif not request.contract.exchange:
        refuse(session, req_id, 321)
    elif len(matches) != 1:
        refuse(session, req_id, 200)
    else:
        answer(session, req_id, matches[0], request.snapshot)


def _positions(session: "Session") -> None:
    """Send every open position, then positionEnd; later changes are pushed until cancelPositions."""
    session.positions_subscribed = True
    portfolio = session.gateway.portfolio
    for pos in portfolio.positions():
        contract = portfolio.contract(pos.conid)
        if pos.position and contract is not None:
            session.send(outgoing.position(pos, contract))
    session.send(outgoing.position_end())


def _account_updates(session: "Session", subscribe: bool, account: str) -> None:
    """Subscribe one account's values and portfolio (replacing any other account), or unsubscribe."""
    gateway = session.gateway
    if not subscribe:
        session.account_updates = None
        return
    session.account_updates = account
    for tag, value, currency in account_values(gateway, account):
        session.send(outgoing.account_value(account, tag, value, currency))
    for pos in gateway.portfolio.positions():
        contract = gateway.portfolio.contract(pos.conid)
        if pos.account == account and pos.position and contract is not None:
            session.send(outgoing.portfolio_value(pos, contract, gateway.pricing.valuation(pos)))
    session.send(outgoing.account_update_time(time.strftime("%H:%M")))
    session.send(outgoing.account_download_end(account))


def _account_multi(session: "Session", req_id: int, account: str) -> None:
    """Answer reqAccountUpdatesMulti: one account's values, then the end."""
    for tag, value, currency in account_values(session.gateway, account):
        session.send(outgoing.account_update_multi(req_id, account, tag, value, currency))
    session.send(outgoing.account_update_multi_end(req_id))


def _account_summary(session: "Session", req_id: int) -> None:
    """Answer reqAccountSummary (ib_insync sends it by itself after 1102): every account, then the end."""
    gateway = session.gateway
    for name in gateway.accounts:
        for tag, value, currency in account_values(gateway, name):
            session.send(outgoing.account_summary(req_id, name, tag, value, currency))
    session.send(outgoing.account_summary_end(req_id))


def _contract_details(session: "Session", req_id: int, query: ContractQuery) -> None:
    """Every matching contract, then the end; error 200 when none matches."""
    matches = session.gateway.portfolio.match(query)
    if not matches:
        session.error(req_id, 200)
        return
    for contract in matches:
        hours = session.gateway.access.details_hours(contract)
        session.send(outgoing.contract_data(req_id, contract, query.exchange or "SMART", hours))
    session.send(outgoing.contract_data_end(req_id))


def _place_order(session: "Session", order_id: int) -> None:
    """Count the order (a read-only client must never send one) and reject it."""
    session.gateway.counters.orders += 1
    logger.warning("{} sent placeOrder {}: counted and rejected", session, order_id)
    session.error(order_id, 201)
