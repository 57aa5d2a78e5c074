"""One-off market-data snapshots on lines the allocator lent: each paced, each ended by the gateway's
tickSnapshotEnd, an error, or a timeout that cancels it; reported all at once when every one is over.

Lives in the session's loop thread.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from possync.actors.gateway._client import IbClient
from possync.actors.gateway._convert import price
from possync.actors.gateway._pacing import Pacer, Priority
from possync.messages.domain import Contract, DataType
from possync.messages.snapshots import Snapshot, SnapshotOrder


class Snapshots:
    """The snapshots of one session (see the module docstring)."""

    def __init__(self, client: IbClient, ib: Any, pacer: Pacer, contracts: dict[int, Any]) -> None:
        """`contracts` caches the client's contract per conid (shared with the lines)."""
        self._client = client
        self._ib = ib
        self._pacer = pacer
        self._contracts = contracts
        self._errors: dict[int, tuple[int, str]] = {}  # by reqId of the snapshots in progress
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        """Snapshot requests and cancels sent."""
        self.in_progress = 0
        """Snapshots asked for and not over yet (each may hold a line at the gateway)."""

    def start(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        """Snapshot each order's contract; `on_done` gets their outcomes, in order, once all are over."""
        self.in_progress += len(orders)
        task = asyncio.get_running_loop().create_task(self._take_all(orders, timeout_s, on_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_error(self, req_id: int, code: int, message: str, harmless: bool) -> bool:
        """True if `req_id` is a snapshot of ours (its error kept as its outcome unless `harmless`)."""
        if req_id not in self._errors:
            return False
        if not harmless:
            self._errors[req_id] = (code, message)
            self._client.finish_snapshot(self._ib, req_id)
        return True

    async def _take_all(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        snapshots = await asyncio.gather(*(self._snapshot(order.contract, timeout_s) for order in orders))
        on_done(tuple(snapshots))

    async def _snapshot(self, contract: Contract, timeout_s: float) -> Snapshot:
        try:
            return await self._take(contract, timeout_s)
        finally:
            self.in_progress -= 1

    async def _take(self, contract: Contract, timeout_s: float) -> Snapshot:
        await self._pacer.token(Priority.SNAPSHOTS)
        ib = self._ib
        if not ib.isConnected():
            return Snapshot(contract.conid, None, error="not connected to the gateway")
        ib_contract = self._contracts.setdefault(
            contract.conid, self._client.contract(contract.conid, contract.exchange or "SMART")
        )
        req_id, ended, ticker = self._client.start_snapshot(ib, ib_contract)
        self._errors[req_id] = (0, "")
        self._sent()
        timed_out = await self._wait(req_id, ended, ticker, timeout_s)
        code, message = self._errors.pop(req_id, (0, ""))
        if code:
            return Snapshot(contract.conid, None, code, message)
        if timed_out:
            return Snapshot(contract.conid, None, error=f"no snapshot within {timeout_s}s (cancelled)")
        data_type = DataType.of(getattr(ticker, "marketDataType", 0) or 0)
        return Snapshot(contract.conid, price(ticker.marketPrice()), data_type=data_type)

    async def _wait(self, req_id: int, ended: Any, ticker: Any, timeout_s: float) -> bool:
        """Wait for the snapshot's end; on timeout cancel it at the gateway. True if it timed out."""
        timed_out = False
        try:
            await asyncio.wait_for(ended, timeout_s)
        except TimeoutError:
            timed_out = True
            await self._pacer.token(Priority.LINES)  # the cancel gives a lent line back
            if self._ib.isConnected():
                self._ib.client.cancelMktData(req_id)
        finally:
            self._client.end_snapshot(self._ib, req_id, ticker, timed_out)
        return timed_out

    def _sent(self) -> None:
        self.sent += 1
        self._pacer.sent()
