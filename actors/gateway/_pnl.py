"""The P&L channel of one session: one reqPnLSingle subscription per held (account, conid), no line.

Lives in the session's loop thread. `sync` (on connect and on each position change) subscribes every held
position up to `max_subscriptions` and cancels the ones gone flat; `resubmit` (after 1101: the gateway
dropped them) asks again for every one under the same request id. Requests wait in a queue and go out
each after a token of the session's `Pacer`, like the market-data lines. The client keeps each
subscription's latest values (`PnLSingle`); `on_pnl` marks the ones that changed, and `take_rows` turns
those into observations (source `pnl`), the latest per position, however many updates came between.

IB's unset value (Double.MAX, e.g. realized P&L of a position not traded today) becomes None.
"""

import asyncio
import math
from collections import deque
from typing import Any, Literal

from possync.actors.gateway._convert import from_ib, implied_price
from possync.actors.gateway._pacing import Pacer, Priority
from possync.messages.domain import Observation, Source, Value, utc_now

UNSET = 1.0e300
"""Values at least this large are IB's "unset" (Double.MAX, 1.797e308)."""
_Key = tuple[str, int]  # (account, conid)
_Kind = Literal["req", "cancel", "again"]


def unset_to_none(value: float | None) -> float | None:
    """A P&L value as a float; None for no value (None, NaN) and for IB's unset (Double.MAX)."""
    if value is None or math.isnan(value) or abs(value) >= UNSET:
        return None
    return float(value)


class PnlChannel:
    """The session's P&L subscriptions and their paced request queue (see the module docstring)."""

    def __init__(self, ib: Any, pacer: Pacer, max_subscriptions: int) -> None:
        self._ib = ib
        self._pacer = pacer
        self._max = max_subscriptions
        self._subscribed: dict[_Key, Any] = {}  # the client's PnLSingle, by key
        self._last: dict[_Key, tuple] = {}  # the values last taken, by key
        self._changed: set[_Key] = set()
        self._requests: deque[tuple[_Kind, _Key]] = deque()
        self._wakeup = asyncio.Event()
        self.sent = 0

    @property
    def count(self) -> int:
        """Subscriptions held (answered or not yet)."""
        return len(self._subscribed)

    def subscribed(self, account: str, conid: int) -> bool:
        """True while (account, conid) has a P&L subscription (answered or not yet)."""
        return (account, conid) in self._subscribed

    def value(self, account: str, conid: int) -> Value | None:
        """What the P&L channel last said (account, conid) is worth; None before its first answer."""
        pnl = self._subscribed.get((account, conid))
        if pnl is None or unset_to_none(pnl.value) is None:
            return None
        return _value_of(pnl)

    def sync(self) -> None:
        """Subscribe the held positions (up to the cap), cancel the ones no longer held."""
        held = {(p.account, p.contract.conId) for p in self._ib.positions() if p.position}
        for key in [key for key in self._subscribed if key not in held]:
            del self._subscribed[key]
            self._queue("cancel", key)
        for key in sorted(held - self._subscribed.keys())[: max(0, self._max - len(self._subscribed))]:
            self._subscribed[key] = None
            self._queue("req", key)

    def resubmit(self) -> None:
        """The gateway dropped every P&L subscription (1101): ask again for each."""
        for key in self._subscribed:
            self._queue("again", key)

    def on_pnl(self, pnl: Any) -> None:
        """The client updated a subscription's values (in the loop thread): remember it changed."""
        key = (pnl.account, pnl.conId)
        if key in self._subscribed and self._last.get(key) != _values(pnl):
            self._changed.add(key)

    def take_rows(self) -> tuple[Observation, ...]:
        """The observations of the subscriptions changed since the last call (the latest values of each)."""
        positions = {(p.account, p.contract.conId): p for p in self._ib.positions()}
        rows = [self._row(key, positions.get(key)) for key in sorted(self._changed)]
        self._changed.clear()
        return tuple(row for row in rows if row is not None)

    async def send_requests(self) -> None:
        """Send the queued requests in order, each after a token of the session's pacer (which holds them
        while too many are unanswered, and pings)."""
        while True:
            if not self._requests:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._pacer.token(Priority.PNL)
            kind, key = self._requests.popleft()
            if self._ib.isConnected():
                self._send(kind, key)

    def _row(self, key: _Key, position: Any) -> Observation | None:
        pnl = self._subscribed.get(key)
        if pnl is None or position is None:
            return None
        self._last[key] = _values(pnl)
        contract = from_ib(position.contract)
        value = _value_of(pnl)
        price = implied_price(value.market_value, float(pnl.position or 0.0), contract.multiplier)
        return Observation(
            key[0], contract, float(pnl.position), float(position.avgCost), price, Source.PNL, utc_now(),
            value=value,
        )  # fmt: skip

    def _holds(self, account: str, conid: int) -> bool:
        return (account, "", conid) in self._ib.wrapper.pnlSingleKey2ReqId

    def _queue(self, kind: _Kind, key: _Key) -> None:
        self._requests.append((kind, key))
        self._wakeup.set()

    def _send(self, kind: _Kind, key: _Key) -> None:
        account, conid = key
        if kind == "req" and key in self._subscribed and self._subscribed[key] is None:
            self._subscribed[key] = self._ib.reqPnLSingle(account, "", conid)
        elif kind == "cancel" and key not in self._subscribed and self._holds(account, conid):
            self._ib.cancelPnLSingle(account, "", conid)
        elif kind == "again" and self._subscribed.get(key) is not None:
            req_id = self._ib.wrapper.pnlSingleKey2ReqId.get((account, "", conid))
            if req_id is None:
                return
            self._ib.client.reqPnLSingle(req_id, account, "", conid)
        else:
            return
        self.sent += 1
        self._pacer.sent()


def _values(pnl: Any) -> tuple:
    return (pnl.position, pnl.dailyPnL, pnl.unrealizedPnL, pnl.realizedPnL, pnl.value)


def _value_of(pnl: Any) -> Value:
    return Value(
        market_value=unset_to_none(pnl.value),
        unrealized_pnl=unset_to_none(pnl.unrealizedPnL),
        realized_pnl=unset_to_none(pnl.realizedPnL),
        daily_pnl=unset_to_none(pnl.dailyPnL),
    )
