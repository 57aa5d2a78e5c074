"""reqPnL / reqPnLSingle: P&L subscriptions, answered about once a second as the real gateway does.

Wire (server version 176, both ib_insync's and IB's own decoders): pnlSingle
`95, reqId, pos, dailyPnL, unrealizedPnL, realizedPnL, value` and pnl
`94, reqId, dailyPnL, unrealizedPnL, realizedPnL` (no version field in either). Requests:
reqPnL `92, reqId, account, modelCode`, cancelPnL `93, reqId`, reqPnLSingle
`94, reqId, account, modelCode, conid`, cancelPnLSingle `95, reqId`.

Behaviour (sources in simulator/README.md): no answer for a conid the account does not hold (IB's docs);
error 321 for an account that is not one of the login's; realizedPnL of a position not traded today is
Double.MAX ("unset"), in pnlSingle only; a 1101 notice drops every subscription.
"""

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from possync.simulator import incoming, outgoing
from possync.simulator.pricing import Valuation
from possync.simulator.protocol import In, Out
from possync.simulator.wire import frame

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway
    from possync.simulator.session import Session

UNSET_DOUBLE = "1.7976931348623157E308"
"""Java's Double.MAX_VALUE as the gateway writes it: IB's "no value" (an empty cell in TWS)."""
INVALID_ACCOUNT = "Error validating request.-'cq' : cause - Invalid account code"
"""Error 321's text for a P&L request naming an account the login does not have."""


@dataclass(frozen=True)
class PnlRequest:
    """One P&L subscription: a single position's (`conid`) or, with conid None, the account's."""

    session: "Session"
    req_id: int
    account: str
    conid: int | None


class PnlBook:
    """Every P&L subscription of every client, and the task that answers them each `interval` seconds.

    Not thread-safe: the simulator's event loop owns it.
    """

    def __init__(self, gateway: "Gateway", interval: float) -> None:
        self._gateway = gateway
        self.interval = interval
        self._subs: dict[tuple[Session, int], PnlRequest] = {}

    def counts(self) -> tuple[int, int]:
        """(single-position subscriptions, account subscriptions) held now."""
        singles = sum(1 for sub in self._subs.values() if sub.conid is not None)
        return singles, len(self._subs) - singles

    def set_interval(self, seconds: float) -> None:
        """Answer every subscription each `seconds` from the next round on."""
        if not 0 < seconds <= 60:
            raise ValueError(f"pnl_interval={seconds!r} is out of range: use (0, 60] seconds")
        self.interval = seconds

    def subscribe(self, request: PnlRequest) -> None:
        """Hold a subscription and answer it at once; error 321 for an account the login lacks."""
        if request.account not in self._gateway.accounts:
            request.session.send(outgoing.error(request.req_id, 321, INVALID_ACCOUNT))
            return
        self._subs[request.session, request.req_id] = request
        self._answer(request)

    def cancel(self, session: "Session", req_id: int) -> None:
        """End one subscription (an unknown reqId is ignored)."""
        self._subs.pop((session, req_id), None)

    def release(self, session: "Session") -> int:
        """Drop every subscription of one client; return how many."""
        mine = [key for key in self._subs if key[0] is session]
        for key in mine:
            del self._subs[key]
        return len(mine)

    def release_all(self) -> int:
        """Drop every subscription of every client (1101: data lost); return how many."""
        count = len(self._subs)
        self._subs.clear()
        return count

    async def pump(self) -> None:
        """Answer every subscription each `interval` seconds while the market streams."""
        while True:
            await asyncio.sleep(self.interval)
            if not self._gateway.market.halted:
                for request in list(self._subs.values()):
                    self._answer(request)

    def _answer(self, request: PnlRequest) -> None:
        """Send one subscription its current figures (nothing for a position the account never held)."""
        message = self._single(request) if request.conid is not None else self._account(request)
        if message:
            request.session.send(message)

    def _single(self, request: PnlRequest) -> bytes:
        """pnlSingle of one position, or b"" when the account never held the conid."""
        assert request.conid is not None
        try:
            position = self._gateway.portfolio.position(request.account, request.conid)
        except KeyError:
            return b""
        return pnl_single(request.req_id, self._gateway.pricing.valuation(position))

    def _account(self, request: PnlRequest) -> bytes:
        """pnl of a whole account: the sums over its positions (realized 0 when nothing closed today)."""
        pricing = self._gateway.pricing
        held = [p for p in self._gateway.portfolio.positions() if p.account == request.account]
        values = [pricing.valuation(p) for p in held]
        return pnl(request.req_id, values)


def pnl_single(req_id: int, v: Valuation) -> bytes:
    """pnlSingle (7 fields): position, daily, unrealized, realized (unset if not traded today), value."""
    realized = UNSET_DOUBLE if v.realized is None else v.realized
    return frame(Out.PNL_SINGLE, req_id, v.position, v.daily, v.unrealized, realized, v.value)


def pnl(req_id: int, values: list[Valuation]) -> bytes:
    """pnl (5 fields) of an account: its positions' daily, unrealized and realized P&L summed."""
    daily = round(sum(v.daily for v in values), 2)
    unrealized = round(sum(v.unrealized for v in values), 2)
    realized = round(sum(v.realized or 0.0 for v in values), 2)
    return frame(Out.PNL, req_id, daily, unrealized, realized)


def handle(session: "Session", fields: list[str]) -> None:
    """reqPnL, cancelPnL, reqPnLSingle or cancelPnLSingle from a client."""
    book = session.gateway.pnl
    msg_id, req_id = int(fields[0]), incoming.integer(fields, 1)
    match msg_id:
        case In.REQ_PNL:
            book.subscribe(PnlRequest(session, req_id, incoming.text(fields, 2), None))
        case In.REQ_PNL_SINGLE:
            conid = incoming.integer(fields, 4)
            book.subscribe(PnlRequest(session, req_id, incoming.text(fields, 2), conid))
        case _:
            book.cancel(session, req_id)
    logger.debug("{}: P&L request {} for reqId {}", session, msg_id, req_id)
