"""The IB client library in use: ib_insync (the default) or its maintained fork ib_async (`ib.client`).

The two share their API; this module holds what differs between them and the few internals of theirs that
possync relies on (each named here and nowhere else), so the rest of the gateway package is written once.
Differences that matter (ib_insync 0.9.86, ib_async 2.1.0): ib_async counts errors 105, 321 and 329 as
warnings that leave a request pending (a refused snapshot would wait out its timeout: `finish_snapshot`
ends it); ib_async finds a ticker by conid where ib_insync uses the contract object's identity (the
session keeps one contract object per conid, so both behave alike); both now run on aeventkit, which
drops an exception raised in an event listener silently (`report_listener_errors` reports it).
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

ClientName = Literal["ib_insync", "ib_async"]
CLIENTS: tuple[ClientName, ...] = ("ib_insync", "ib_async")


@dataclass(frozen=True)
class IbClient:
    """One client library: builds its `IB` and contracts, and reads the internals possync needs."""

    name: ClientName
    module: ModuleType

    def new_ib(self, max_requests_per_s: float) -> Any:
        """A new `IB` (call in the thread whose loop will run it), throttling its own requests too."""
        ib = self.module.IB()
        ib.client.MaxRequests = max(1, int(max_requests_per_s))
        return ib

    def contract(self, conid: int, exchange: str) -> Any:
        """The client's contract for `conid` on `exchange` (what identifies it to the gateway)."""
        return self.module.Contract(conId=conid, exchange=exchange)

    def positions_complete(self, ib: Any) -> bool:
        """True once the positions download of this session has ended (positionEnd arrived).

        Both clients keep the positions request's future until positionEnd; no public flag says so.
        """
        return ib.isConnected() and "positions" not in ib.wrapper._futures

    def start_snapshot(self, ib: Any, contract: Any) -> tuple[int, Any, Any]:
        """Request a one-off snapshot of `contract` as the client's own reqTickersAsync does: its request
        id, the future the gateway's tickSnapshotEnd completes, and the ticker the ticks fill."""
        req_id = ib.client.getReqId()
        ended = ib.wrapper.startReq(req_id, contract)
        ticker = ib.wrapper.startTicker(req_id, contract, "snapshot")
        ib.client.reqMktData(req_id, contract, "", True, False, [])
        return req_id, ended, ticker

    def finish_snapshot(self, ib: Any, req_id: int) -> None:
        """End the snapshot `req_id` now, as the gateway's tickSnapshotEnd would (a no-op once ended): the
        gateway refused it. ib_insync ends it by itself; ib_async leaves it pending on 105, 321 and 329."""
        ib.wrapper.tickSnapshotEnd(req_id)

    def report_listener_errors(self, ib: Any, report: Callable[[str, BaseException], None]) -> None:
        """Have `report(event name, error)` called for an exception raised by a listener of `ib`'s events
        (aeventkit, which both clients import, hands it to the event's error event and nowhere else)."""
        for name in ib.events:
            error_event = getattr(getattr(ib, name), "error_event", None)
            if error_event is not None:
                error_event += lambda source, error, name=name: report(name, error)

    def end_snapshot(self, ib: Any, req_id: int, ticker: Any, timed_out: bool) -> None:
        """Forget the snapshot `req_id` in the client (ending its request first if the gateway did not)."""
        if timed_out:
            ib.wrapper.tickSnapshotEnd(req_id)
        ib.wrapper.endTicker(ticker, "snapshot")
        ib.wrapper.reqId2Ticker.pop(req_id, None)


def load_client(name: ClientName) -> IbClient:
    """The client library called `name` (imported on first use: import it in the main thread first)."""
    if name not in CLIENTS:
        raise ValueError(f"unknown IB client {name!r}: use one of {', '.join(CLIENTS)}")
    return IbClient(name, importlib.import_module(name))
