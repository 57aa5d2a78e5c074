"""The market-data lines of one session: one subscription per contract, requested and cancelled in order,
each after a token of the session's pacer; the ticks of each line handed to its handler.

Lives in the session's loop thread: `subscribe` / `unsubscribe` / `resubscribe` only queue a request;
`send_requests` (a task of the loop) sends them.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from loguru import logger

from possync.actors.gateway._client import IbClient
from possync.actors.gateway._convert import tick_of
from possync.actors.gateway._pacing import Pacer
from possync.messages.domain import Contract, Observation, Tick
from possync.messages.slots import SlotLease

TickHandler = Callable[[Tick], tuple[Observation, ...]]
"""Where a line's ticks go: called in the loop with what the read left on the line; it returns the
observations the tick made (handed on, all those of one read in one call)."""


@dataclass(eq=False)
class _Line:
    """One subscription: its lease, the client's contract, where its ticks go, and where it stands."""

    lease: SlotLease
    contract: Any
    on_tick: TickHandler
    sent: bool = False
    dropped: bool = False


class Lines:
    """The session's subscriptions and their paced request queue (see the module docstring)."""

    def __init__(
        self,
        client: IbClient,
        ib: Any,
        pacer: Pacer,
        contracts: dict[int, Any],
        on_updates: Callable[[tuple[Observation, ...]], None],
    ) -> None:
        """`contracts` caches the client's contract per conid (one ticker per contract in the client)."""
        self._client = client
        self._ib = ib
        self._pacer = pacer
        self._contracts = contracts
        self._on_updates = on_updates
        self._lines: dict[int, _Line] = {}  # by conid: one subscription per contract
        self._requests: deque[tuple[Literal["req", "cancel"], _Line]] = deque()
        self._wakeup = asyncio.Event()
        self.sent = 0
        """Subscribe and cancel requests sent to the gateway."""
        self.pending = 0
        """Requests queued (or waiting for a token) and not sent yet."""

    def subscribe(self, lease: SlotLease, contract: Contract, on_tick: TickHandler) -> None:
        """Queue a subscription of `contract` for `lease` (one per contract: a newer one wins)."""
        older = self._lines.get(contract.conid)
        if older is not None:
            logger.warning("conid {}: {} replaces the subscription of {}", contract.conid, lease, older.lease)
            self._drop(older)
        ib_contract = self._contracts.setdefault(
            contract.conid, self._client.contract(contract.conid, contract.exchange or "SMART")
        )
        line = self._lines[contract.conid] = _Line(lease, ib_contract, on_tick)
        self._queue("req", line)

    def unsubscribe(self, lease: SlotLease) -> None:
        """Cancel the subscription of `lease` (nothing goes out if its request has not yet); idempotent."""
        line = self._line_of(lease)
        if line is not None:
            self._drop(line)

    def resubscribe(self, lease: SlotLease) -> None:
        """Cancel and request again the subscription of `lease` (a silent or dropped stream)."""
        line = self._line_of(lease)
        if line is not None and line.sent:
            self._queue("cancel", line)
            line.sent = False
            self._queue("req", line)

    def refused(self, contract: Any) -> SlotLease | None:
        """The gateway refused the subscription of `contract`: forget it; its lease (None if not ours)."""
        line = self._lines.get(contract.conId) if contract is not None else None
        if line is None or line.contract is not contract or not line.sent:
            return None
        self._drop(line)
        return line.lease

    def owns(self, contract: Any) -> bool:
        """True if `contract` is the contract of one of our requested lines."""
        line = self._lines.get(contract.conId) if contract is not None else None
        return line is not None and line.contract is contract and line.sent

    def on_tickers(self, tickers: set[Any]) -> None:
        """The client's pending tickers of one read: each line's ticks to its handler, the observations on."""
        updates: list[Observation] = []
        for ticker in tickers:
            contract = ticker.contract
            line = self._lines.get(contract.conId) if contract is not None else None
            if line is None or not line.sent or contract is not line.contract:
                continue
            updates += line.on_tick(tick_of(ticker))
        if updates:
            self._on_updates(tuple(updates))

    async def send_requests(self) -> None:
        """Send the queued requests in order, each after a token (the pacer holds them while too many are
        unanswered, and pings)."""
        while True:
            if not self._requests:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            kind, line = self._requests[0]
            if kind == "cancel" or not line.dropped:
                await self._pacer.token()
                self._send(kind, line)
            self._requests.popleft()
            self.pending -= 1

    def _line_of(self, lease: SlotLease) -> _Line | None:
        return next((line for line in self._lines.values() if line.lease == lease), None)

    def _drop(self, line: _Line) -> None:
        """Forget `line`: cancel it at the gateway if its request went out, else just never send it."""
        del self._lines[line.contract.conId]
        line.dropped = True
        if line.sent:
            self._queue("cancel", line)

    def _queue(self, kind: Literal["req", "cancel"], line: _Line) -> None:
        self._requests.append((kind, line))
        self.pending += 1
        self._wakeup.set()

    def _send(self, kind: Literal["req", "cancel"], line: _Line) -> None:
        if not self._ib.isConnected() or (kind == "req" and line.dropped):
            return  # the session is over, or the line was dropped while waiting for its token
        if kind == "cancel":
            self._ib.cancelMktData(line.contract)
        else:
            self._ib.reqMktData(line.contract, "", False, False)
            line.sent = True
        self.sent += 1
        self._pacer.sent()
