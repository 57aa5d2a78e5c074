"""IbSession: the IB client's `IB` on an event loop of its own, and the session's parts wired to it.

`IbSession` runs a daemon thread with a private asyncio loop and creates the `IB` inside it (ib_insync or
ib_async: `ib.client`). Its methods are called from the ConnectionActor's thread and are thread-safe:
`connect` blocks (bounded by its timeout); `subscribe`/`unsubscribe`/`resubscribe` only queue a request
for the lines (`_lines`), which go out in order, paced by the session's `Pacer` (the client's own throttle,
set to the same rate, backs it up for the requests it sends by itself); `snapshots` takes one-off
snapshots (`_snapshots`); `positions` reads what the client holds (`_positions`); `close` disconnects,
stops the loop and joins the thread.

The client's callbacks run in the loop thread and only hand on: ticks to each line's handler, the
observations those make to `on_updates` (one call per read from the gateway), everything else as msgspec
messages to `on_event` (positions, failed subscriptions, notices, the socket closing, and the silence
watchdog's `GatewaySilence`). Both must be quick and only tell actors.
"""

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from loguru import logger

from possync.actors.gateway._account_data import AccountData
from possync.actors.gateway._client import IbClient, load_client
from possync.actors.gateway._connect import GatewayUnreachable, connect, unreachable
from possync.actors.gateway._convert import position_changed
from possync.actors.gateway._details import ContractDetails
from possync.actors.gateway._lines import Lines, TickHandler
from possync.actors.gateway._market_data import WARNINGS
from possync.actors.gateway._pacing import Pacer, Priority
from possync.actors.gateway._pnl import PnlChannel
from possync.actors.gateway._positions import positions_reply
from possync.actors.gateway._snapshots import Snapshots
from possync.actors.gateway._watchdog import SilenceWatchdog
from possync.messages.connection import GatewayDisconnected, GatewayNotice, SubscriptionFailed
from possync.messages.domain import Contract, Observation
from possync.messages.poller import PositionsReply
from possync.messages.routing import PositionChanged
from possync.messages.slots import SlotLease
from possync.messages.snapshots import Snapshot, SnapshotOrder

UNANSWERED_MAX = 30
"""Requests sent since the gateway last sent anything, at most (IB allows a burst of 50 a second)."""
_NOT_FAILURES = WARNINGS
"""Errors about a subscription that leave it working (10090, 10167: see `_market_data.WARNINGS`)."""
_WARNINGS = range(2100, 2200)
"""Warnings about a request (not failures of it)."""
_CALL_MARGIN_S = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class Connected:
    """The outcome of `IbSession.connect`: the client id in use, the accounts and their open positions."""

    client_id: int
    accounts: tuple[str, ...]
    positions: tuple[PositionChanged, ...]


class IbSession:
    """One `IB` and the thread running its loop (see the module docstring)."""

    def __init__(
        self,
        on_event: Callable[[Any], None],
        pacing_per_s: float,
        name: str = "ib-session",
        silence_s: float = 0.0,
        on_updates: Callable[[tuple[Observation, ...]], None] = lambda rows: None,
        client: IbClient | None = None,
        market_data_type: int = 1,
        pnl_subscriptions: int = 0,
    ) -> None:
        """`silence_s` > 0: report a gateway silent that long (`GatewaySilence`); 0: never. `on_updates`
        gets the observations the lines' tick handlers made, once per read from the gateway. `client`:
        the IB client library (ib_insync when None). `market_data_type`: the reqMarketDataType code sent
        once on connecting, before any market-data request. `pnl_subscriptions`: P&L subscriptions held
        at most (0: no P&L channel)."""
        self._market_data_type = market_data_type
        self._pnl_max = pnl_subscriptions
        self._on_event = on_event
        self._on_updates = on_updates
        self._silence_s = silence_s
        self._client = client or load_client("ib_insync")
        self._pacing_per_s = pacing_per_s
        self._loop = asyncio.new_event_loop()
        self._closing = False
        self._lock = threading.Lock()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=name, daemon=True)
        self._thread.start()
        ready.result(timeout=_CALL_MARGIN_S)

    @property
    def pacing_delays(self) -> int:
        """Requests that had to wait for the token bucket."""
        return self._pacer.bucket.delayed

    @property
    def requests_sent(self) -> int:
        """Subscribe, cancel and snapshot requests sent to the gateway."""
        return self._lines.sent + self._snapshots.sent

    @property
    def requests_pending(self) -> int:
        """Requests queued (or waiting for a token) and not sent yet."""
        return self._lines.pending

    @property
    def pnl_subscriptions(self) -> int:
        """P&L subscriptions held (or queued to be sent)."""
        return self._pnl.count

    @property
    def snapshots_in_progress(self) -> int:
        """Snapshots asked for and not over yet (each may hold a line at the gateway)."""
        return self._snapshots.in_progress

    def connect(
        self,
        host: str,
        port: int,
        client_id: int,
        *,
        timeout_s: float,
        account: str,
        readonly: bool,
        tries: int,
    ) -> Connected:
        """Connect, trying client ids `client_id`, `client_id + 1`, ... (`tries` of them) while in use.

        Raises GatewayUnreachable (nothing listens, or no API handshake within `timeout_s`) or
        ClientIdInUse. Blocks the caller at most about `timeout_s` beyond the quick 326 refusals.
        """
        work = self._connect(host, port, client_id, timeout_s, account, readonly, tries)
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        try:
            return future.result(timeout=timeout_s * 2 + _CALL_MARGIN_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise GatewayUnreachable(unreachable(host, port, f"no answer within {timeout_s}s")) from None

    def subscribe(self, lease: SlotLease, contract: Contract, on_tick: TickHandler) -> None:
        """Queue a market-data subscription of `contract` for `lease` (one per contract: a newer one wins)."""
        self._call(self._lines.subscribe, lease, contract, on_tick)

    def unsubscribe(self, lease: SlotLease) -> None:
        """Cancel the subscription of `lease` (nothing goes out if its request has not yet); idempotent."""
        self._call(self._lines.unsubscribe, lease)

    def resubscribe(self, lease: SlotLease) -> None:
        """Cancel and request again the subscription of `lease` (a silent or dropped stream)."""
        self._call(self._lines.resubscribe, lease)

    def resubmit_account_data(self, data_lost: bool) -> None:
        """Ask for the positions subscription (and after 1101 the account updates) again (`_account_data`)."""
        self._call(self._account_data.resubmit, data_lost)

    def describe(self, conid: int, on_done: Callable[[Any], None]) -> None:
        """Describe `conid` (contract details, cached, paced); `on_done` gets it in the loop thread."""
        self._call(self._details.describe, conid, partial(self._unless_closing, on_done))

    def snapshots(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        """Take a snapshot of each order's contract, each within `timeout_s`; `on_done` (in the loop thread)
        gets their outcomes in order once every one is over: none of them holds a line at the gateway then."""
        self._call(self._snapshots.start, orders, timeout_s, partial(self._unless_closing, on_done))

    def positions(self, conids: tuple[int, ...] | None, account: str, timeout_s: float) -> PositionsReply:
        """The non-zero positions held now (of `conids`, or all; of `account`, or all when ""), with the
        portfolio updates' market prices; `complete` once the positions download has ended."""
        return self._in_loop(
            lambda: positions_reply(self._client, self._ib, conids, account, self._pnl), timeout_s
        )

    def resubmit_pnl(self) -> None:
        """Ask again for every P&L subscription (the gateway dropped them: 1101)."""
        self._call(self._pnl.resubmit)

    def pnl_rows(self, timeout_s: float) -> tuple[Observation, ...]:
        """The observations of the P&L values changed since the last call (source `pnl`)."""
        return self._in_loop(self._pnl.take_rows, timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Disconnect, stop the loop and join its thread (bounded); idempotent, callable from any thread."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                logger.warning("IB client loop thread did not stop within {}s", timeout_s)

    # --- the loop thread ---

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._ib = ib = self._client.new_ib(self._pacing_per_s)
            self._client.report_listener_errors(ib, _listener_failed)
            self._pacer = Pacer(self._pacing_per_s, UNANSWERED_MAX, partial(_ping, ib))
            contracts: dict[int, Any] = {}
            self._lines = Lines(self._client, ib, self._pacer, contracts, self._updates)
            self._snapshots = Snapshots(self._client, ib, self._pacer, contracts)
            self._watchdog = SilenceWatchdog(ib, self._pacer, self._silence_s, self._emit)
            self._account_data = AccountData(ib, self._pacer, self._emit)
            self._details = ContractDetails(ib, self._client.module, self._pacer)
            self._pnl = PnlChannel(ib, self._pacer, self._pnl_max)
            drain = self._loop.create_task(self._lines.send_requests())
            self._loop.create_task(self._pnl.send_requests())
            ready.set_result(None)
            self._loop.run_forever()
            drain.cancel()
        finally:
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(asyncio.sleep(0))  # let the closed socket's transport finish
            self._loop.close()

    def _shutdown(self) -> None:
        self._ib.disconnect()
        self._loop.stop()

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if not self._closing:
            self._loop.call_soon_threadsafe(fn, *args)

    def _in_loop(self, fn: Callable[[], T], timeout_s: float) -> T:
        """Run `fn` in the loop thread and return its result (waiting at most `timeout_s`)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except Exception as error:
                future.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=timeout_s)

    def _emit(self, message: Any) -> None:
        if not self._closing:
            self._on_event(message)

    def _updates(self, rows: tuple[Observation, ...]) -> None:
        if not self._closing:
            self._on_updates(rows)

    def _unless_closing(
        self, on_done: Callable[[tuple[Snapshot, ...]], None], shots: tuple[Snapshot, ...]
    ) -> None:
        if not self._closing:
            on_done(shots)

    async def _connect(
        self, host: str, port: int, client_id: int, timeout_s: float, account: str, readonly: bool, tries: int
    ) -> Connected:
        ib = self._ib
        connected_id = await connect(ib, host, port, client_id, timeout_s, account, readonly, tries)
        ib.positionEvent += lambda position: self._emit(position_changed(position))
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._lines.on_tickers
        ib.disconnectedEvent += lambda: self._emit(GatewayDisconnected("the gateway closed the socket"))
        ib.updateEvent += self._on_data
        # the data type first: no market-data request goes out before we return
        await self._pacer.token(Priority.CONTROL)
        ib.reqMarketDataType(self._market_data_type)
        self._pacer.sent()
        if self._silence_s > 0:
            self._watchdog.watch()
        self._watch_pnl(ib)
        positions = tuple(position_changed(p) for p in ib.positions())
        self._account_data.connected(account, tuple(ib.managedAccounts()))
        return Connected(connected_id, tuple(ib.managedAccounts()), positions)

    def _watch_pnl(self, ib: Any) -> None:
        """Keep the P&L channel's subscriptions in step with the positions held (when it is on)."""
        if self._pnl_max > 0:
            ib.positionEvent += lambda _: self._pnl.sync()
            ib.pnlSingleEvent += self._pnl.on_pnl
            self._pnl.sync()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any, *_: object) -> None:
        harmless = code in _NOT_FAILURES or code in _WARNINGS
        if not harmless and self._details.on_error(contract, code, message):
            return
        if self._snapshots.on_error(req_id, code, message, harmless):
            return
        if self._lines.owns(contract):
            if harmless:
                return
            lease = self._lines.refused(contract)
            if lease is not None:
                self._emit(SubscriptionFailed(lease, code, message))
        elif req_id == -1:
            self._emit(GatewayNotice(code, message))

    def _on_data(self) -> None:
        """A packet came from the gateway: it reads again; end a silence, and watch for the next one."""
        self._pacer.heard_from_gateway()
        self._watchdog.on_data()


def _listener_failed(event: str, error: BaseException) -> None:
    """An exception in one of our listeners of the client's events (a bug of ours: say so loudly)."""
    logger.opt(exception=error).error("IB client event {} listener failed: {!r}", event, error)


def _ping(ib: Any) -> None:
    """Ask the gateway the time (the pacer's ping: any answer shows it reads again)."""
    if ib.isConnected():
        ib.client.reqCurrentTime()
