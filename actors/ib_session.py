"""ib_insync's `IB` on an event loop of its own: the only module that touches ib_insync.

`IbSession` runs a daemon thread with a private asyncio loop and creates the `IB` inside it. Its methods
are called from the ConnectionActor's thread and are thread-safe: `connect` blocks (bounded by its
timeout); `subscribe`/`unsubscribe`/`resubscribe` only queue a request, which the loop sends in order,
paced by one token bucket (ib_insync's own throttle, set to the same rate, backs it up for the requests
ib_insync sends by itself), and never more than `UNANSWERED_MAX` after the last data from the gateway:
past that a ping (reqCurrentTime) must be answered first, so a gateway that stopped reading (hung) never
reads more than that in one burst when it wakes up; `close` disconnects, stops the loop and joins the thread.
`snapshots` takes one-off market-data snapshots (each paced by the same bucket, each ended by the gateway's
tickSnapshotEnd, an error, or a timeout that cancels it) and reports them all at once.

ib_insync's callbacks run in the loop thread and only hand on: ticks to the subscriber's `on_tick` (price,
time: a `StreamFeed`), the observations those make to `on_updates` (one call per read from the gateway),
everything else as msgspec messages to `on_event` (positions, failed subscriptions, notices, the socket
closing, and `GatewaySilence` when nothing at all came from the gateway for `silence_s` and it did not
answer a ping within half that again, then once data flows again). Both must be quick and only tell actors.
"""

import asyncio
import concurrent.futures
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import ib_insync
from loguru import logger
from possync.actors.pacing import TokenBucket
from possync.messages.connection import (
    GatewayDisconnected,
    GatewayNotice,
    GatewaySilence,
    SubscriptionFailed,
)
from possync.messages.domain import Contract, Observation, utc_now
from possync.messages.poller import HeldPosition, PositionsReply
from possync.messages.routing import PositionChanged
from possync.messages.slots import SlotLease
from possync.messages.snapshots import Snapshot, SnapshotOrder

CLIENT_ID_IN_USE = 326
UNANSWERED_MAX = 30
"""Requests sent since the gateway last sent anything, at most (IB allows a burst of 50 a second)."""
_NOT_FAILURES = frozenset({10167})
"""Errors about a subscription that leave it working (10167: delayed data is shown instead)."""
_WARNINGS = range(2100, 2200)
"""Warnings about a request (not failures of it)."""
_CALL_MARGIN_S = 5.0
TickHandler = Callable[[float | None, datetime], tuple[Observation, ...]]
"""Where a line's ticks go: called in the loop with the market price (None if unknown) and the time; it
returns the observations the tick made (handed to `on_updates`, all those of one read in one call)."""
T = TypeVar("T")


class GatewayUnreachable(ConnectionError):
    """No API connection to the gateway could be made; the message says where and what to check."""


class ClientIdInUse(ConnectionError):
    """Every client id tried is used by another API client of the gateway (error 326)."""


@dataclass(frozen=True)
class Connected:
    """The outcome of `IbSession.connect`: the client id in use, the accounts and their open positions."""

    client_id: int
    accounts: tuple[str, ...]
    positions: tuple[PositionChanged, ...]


@dataclass(eq=False)
class _Line:
    """One subscription: its lease, the ib_insync contract, where its ticks go, and where it stands."""

    lease: SlotLease
    contract: ib_insync.Contract
    on_tick: TickHandler
    sent: bool = False
    dropped: bool = False


def to_ib(contract: Contract) -> ib_insync.Contract:
    """The ib_insync contract that identifies `contract` to the gateway (conid and exchange)."""
    return ib_insync.Contract(conId=contract.conid, exchange=contract.exchange or "SMART")


def from_ib(contract: ib_insync.Contract) -> Contract:
    """Our description of an ib_insync contract (as the positions feed reports it)."""
    return Contract(
        conid=contract.conId,
        symbol=contract.symbol,
        sec_type=contract.secType,
        expiry=contract.lastTradeDateOrContractMonth,
        strike=float(contract.strike or 0.0),
        right=contract.right,
        currency=contract.currency,
        exchange=contract.exchange or contract.primaryExchange or "SMART",
        multiplier=contract.multiplier,
    )


def position_changed(position: ib_insync.Position) -> PositionChanged:
    """An ib_insync position as the routing contract's message."""
    return PositionChanged(
        account=position.account,
        contract=from_ib(position.contract),
        position=float(position.position),
        avg_cost=float(position.avgCost),
        event_ts=utc_now(),
    )


class IbSession:
    """One `IB` and the thread running its loop (see the module docstring)."""

    def __init__(
        self,
        on_event: Callable[[Any], None],
        pacing_per_s: float,
        name: str = "ib-session",
        silence_s: float = 0.0,
        on_updates: Callable[[tuple[Observation, ...]], None] = lambda rows: None,
    ) -> None:
        """`silence_s` > 0: report a gateway silent that long (`GatewaySilence`); 0: never. `on_updates`
        gets the observations the lines' tick handlers made, once per read from the gateway."""
        self._on_event = on_event
        self._on_updates = on_updates
        self._silence_s = silence_s
        self._silent = False
        self._unanswered = 0  # requests sent since the last data from the gateway
        self._bucket = TokenBucket(pacing_per_s)
        self._pacing_per_s = pacing_per_s
        self._loop = asyncio.new_event_loop()
        self._lines: dict[int, _Line] = {}  # by conid: one subscription per contract
        self._requests: deque[tuple[Literal["req", "cancel"], _Line]] = deque()
        self._contracts: dict[int, ib_insync.Contract] = {}
        self._snapshot_errors: dict[int, tuple[int, str]] = {}  # by reqId of the snapshots in progress
        self._snapshot_tasks: set[asyncio.Task[None]] = set()
        self._probe: asyncio.Task[None] | None = None  # of the current silence
        self._closing = False
        self._lock = threading.Lock()
        self.requests_sent = 0
        """Subscribe and cancel requests sent to the gateway."""
        self.requests_pending = 0
        """Requests queued (or waiting for a token) and not sent yet."""
        self.snapshots_in_progress = 0
        """Snapshots asked for and not over yet (each may hold a line at the gateway)."""
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=name, daemon=True)
        self._thread.start()
        ready.result(timeout=_CALL_MARGIN_S)

    @property
    def pacing_delays(self) -> int:
        """Requests that had to wait for the token bucket."""
        return self._bucket.delayed

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
            raise GatewayUnreachable(_unreachable(host, port, f"no answer within {timeout_s}s")) from None

    def subscribe(self, lease: SlotLease, contract: Contract, on_tick: TickHandler) -> None:
        """Queue a market-data subscription of `contract` for `lease` (one per contract: a newer one wins)."""
        self._call(self._subscribe, lease, contract, on_tick)

    def unsubscribe(self, lease: SlotLease) -> None:
        """Cancel the subscription of `lease` (nothing goes out if its request has not yet); idempotent."""
        self._call(self._unsubscribe, lease)

    def resubscribe(self, lease: SlotLease) -> None:
        """Cancel and request again the subscription of `lease` (a silent or dropped stream)."""
        self._call(self._resubscribe, lease)

    def snapshots(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        """Take a snapshot of each order's contract, each within `timeout_s`; `on_done` (in the loop thread)
        gets their outcomes in order once every one is over: none of them holds a line at the gateway then."""
        self._call(self._start_snapshots, orders, timeout_s, on_done)

    def positions(self, conids: tuple[int, ...] | None, account: str, timeout_s: float) -> PositionsReply:
        """The non-zero positions held now (of `conids`, or all; of `account`, or all when ""), with the
        portfolio updates' market prices; `complete` once the positions download has ended."""
        return self._in_loop(lambda: self._positions(conids, account), timeout_s)

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
                logger.warning("ib_insync loop thread did not stop within {}s", timeout_s)

    # --- the loop thread ---

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._ib = ib_insync.IB()
            self._ib.client.MaxRequests = max(1, int(self._pacing_per_s))
            self._wakeup = asyncio.Event()
            self._heard = asyncio.Event()
            drain = self._loop.create_task(self._send_requests())
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

    def _positions(self, conids: tuple[int, ...] | None, account: str) -> PositionsReply:
        ib = self._ib
        wanted = None if conids is None else set(conids)
        prices = {(item.account, item.contract.conId): item.marketPrice for item in ib.portfolio()}
        held = tuple(
            HeldPosition(
                account=p.account,
                contract=from_ib(p.contract),
                position=float(p.position),
                avg_cost=float(p.avgCost),
                market_price=_price(prices.get((p.account, p.contract.conId))),
            )
            for p in ib.positions(account)
            if p.position and (wanted is None or p.contract.conId in wanted)
        )
        accounts = (account,) if account else tuple(ib.managedAccounts())
        # ib_insync keeps the positions request's future until positionEnd arrives (no public flag says so)
        complete = ib.isConnected() and "positions" not in ib.wrapper._futures
        return PositionsReply(complete, accounts, held, utc_now())

    def _emit(self, message: Any) -> None:
        if not self._closing:
            self._on_event(message)

    async def _connect(
        self, host: str, port: int, client_id: int, timeout_s: float, account: str, readonly: bool, tries: int
    ) -> Connected:
        for candidate in range(client_id, client_id + tries):
            try:
                await self._connect_once(host, port, candidate, timeout_s, account, readonly)
            except ClientIdInUse:
                logger.info(
                    "client id {} is in use at {}:{}; trying {}", candidate, host, port, candidate + 1
                )
                continue
            ib = self._ib
            ib.positionEvent += lambda position: self._emit(position_changed(position))
            ib.errorEvent += self._on_error
            ib.pendingTickersEvent += self._on_tickers
            ib.disconnectedEvent += lambda: self._emit(GatewayDisconnected("the gateway closed the socket"))
            ib.updateEvent += self._on_data
            if self._silence_s > 0:
                ib.timeoutEvent += self._on_silence
                ib.setTimeout(self._silence_s)
            positions = tuple(position_changed(p) for p in ib.positions())
            return Connected(candidate, tuple(ib.managedAccounts()), positions)
        last = client_id + tries - 1
        raise ClientIdInUse(
            f"client ids {client_id}..{last} are all in use at {host}:{port}: close the other API clients "
            "or set ib.client_id to a free one"
        )

    async def _connect_once(
        self, host: str, port: int, client_id: int, timeout_s: float, account: str, readonly: bool
    ) -> None:
        """One connection attempt; a 326 refusal ends it at once instead of after the whole timeout."""
        ib = self._ib
        refused: asyncio.Future[None] = self._loop.create_future()

        def on_error(req_id: int, code: int, message: str, contract: object) -> None:
            if code == CLIENT_ID_IN_USE and not refused.done():
                refused.set_exception(ClientIdInUse(message))

        ib.errorEvent += on_error
        attempt = asyncio.ensure_future(
            asyncio.wait_for(ib.connectAsync(host, port, client_id, timeout_s, readonly, account), timeout_s)
        )
        try:
            await asyncio.wait({attempt, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused.done():
                attempt.cancel()
                await asyncio.gather(attempt, return_exceptions=True)
                ib.disconnect()
                refused.result()
            attempt.result()
        except (TimeoutError, OSError) as error:
            if isinstance(error, ClientIdInUse):
                raise
            raise GatewayUnreachable(_unreachable(host, port, repr(error))) from error
        finally:
            ib.errorEvent -= on_error
            refused.cancel()

    def _subscribe(self, lease: SlotLease, contract: Contract, on_tick: TickHandler) -> None:
        older = self._lines.get(contract.conid)
        if older is not None:
            logger.warning("conid {}: {} replaces the subscription of {}", contract.conid, lease, older.lease)
            self._drop(older)
        ib_contract = self._contracts.setdefault(contract.conid, to_ib(contract))
        line = self._lines[contract.conid] = _Line(lease, ib_contract, on_tick)
        self._queue("req", line)

    def _unsubscribe(self, lease: SlotLease) -> None:
        line = self._line_of(lease)
        if line is not None:
            self._drop(line)

    def _resubscribe(self, lease: SlotLease) -> None:
        line = self._line_of(lease)
        if line is not None and line.sent:
            self._queue("cancel", line)
            line.sent = False
            self._queue("req", line)

    def _start_snapshots(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        self.snapshots_in_progress += len(orders)
        task = self._loop.create_task(self._take_snapshots(orders, timeout_s, on_done))
        self._snapshot_tasks.add(task)
        task.add_done_callback(self._snapshot_tasks.discard)

    async def _take_snapshots(
        self,
        orders: tuple[SnapshotOrder, ...],
        timeout_s: float,
        on_done: Callable[[tuple[Snapshot, ...]], None],
    ) -> None:
        snapshots = await asyncio.gather(*(self._snapshot(order.contract, timeout_s) for order in orders))
        if not self._closing:
            on_done(tuple(snapshots))

    async def _snapshot(self, contract: Contract, timeout_s: float) -> Snapshot:
        """One snapshot, as ib_insync's reqTickersAsync takes it, but paced and bounded by `timeout_s`."""
        try:
            return await self._take_snapshot(contract, timeout_s)
        finally:
            self.snapshots_in_progress -= 1

    async def _take_snapshot(self, contract: Contract, timeout_s: float) -> Snapshot:
        await self._token()
        ib = self._ib
        if not ib.isConnected():
            return Snapshot(contract.conid, None, error="not connected to the gateway")
        ib_contract = self._contracts.setdefault(contract.conid, to_ib(contract))  # one ticker per contract
        req_id = ib.client.getReqId()
        ended = ib.wrapper.startReq(req_id, ib_contract)
        ticker = ib.wrapper.startTicker(req_id, ib_contract, "snapshot")
        self._snapshot_errors[req_id] = (0, "")
        ib.client.reqMktData(req_id, ib_contract, "", True, False, [])
        self.requests_sent += 1
        self._unanswered += 1
        timed_out = False
        try:
            await asyncio.wait_for(ended, timeout_s)
        except TimeoutError:
            timed_out = True
            await self._token()
            if ib.isConnected():
                ib.client.cancelMktData(req_id)
            ib.wrapper.tickSnapshotEnd(req_id)  # ends ib_insync's request as the gateway's end would
        finally:
            ib.wrapper.endTicker(ticker, "snapshot")
            ib.wrapper.reqId2Ticker.pop(req_id, None)
        code, message = self._snapshot_errors.pop(req_id, (0, ""))
        if code:
            return Snapshot(contract.conid, None, code, message)
        if timed_out:
            return Snapshot(contract.conid, None, error=f"no snapshot within {timeout_s}s (cancelled)")
        return Snapshot(contract.conid, _price(ticker.marketPrice()))

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
        self.requests_pending += 1
        self._wakeup.set()

    async def _send_requests(self) -> None:
        """Send the queued requests in order, each after a token of the bucket."""
        while True:
            if not self._requests:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._unanswered >= UNANSWERED_MAX and self._ib.isConnected():
                await self._ping()
                continue
            kind, line = self._requests[0]
            if kind == "cancel" or not line.dropped:
                await self._token()
                self._send(kind, line)
            self._requests.popleft()
            self.requests_pending -= 1

    async def _token(self) -> None:
        delay = self._bucket.reserve()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _ping(self) -> None:
        """Ask the gateway the time and wait until it sends anything (it may be hung: then we wait)."""
        self._heard.clear()
        await self._token()
        self._ib.client.reqCurrentTime()
        self._unanswered += 1
        await self._heard.wait()

    def _send(self, kind: Literal["req", "cancel"], line: _Line) -> None:
        if not self._ib.isConnected() or (kind == "req" and line.dropped):
            return  # the session is over, or the line was dropped while waiting for its token
        if kind == "cancel":
            self._ib.cancelMktData(line.contract)
        else:
            self._ib.reqMktData(line.contract, "", False, False)
            line.sent = True
        self.requests_sent += 1
        self._unanswered += 1

    def _on_error(self, req_id: int, code: int, message: str, contract: ib_insync.Contract | None) -> None:
        harmless = code in _NOT_FAILURES or code in _WARNINGS
        if req_id in self._snapshot_errors:
            if not harmless:
                self._snapshot_errors[req_id] = (code, message)
            return
        line = self._lines.get(contract.conId) if contract is not None else None
        if line is not None and line.contract is contract and line.sent:
            if harmless:
                return
            self._drop(line)
            self._emit(SubscriptionFailed(line.lease, code, message))
        elif req_id == -1:
            self._emit(GatewayNotice(code, message))

    def _on_silence(self, idle_s: float) -> None:
        """ib_insync's watchdog: nothing came from the gateway for `idle_s` (it fires once per silence)."""
        self._probe = self._loop.create_task(self._probe_silence(idle_s))

    async def _probe_silence(self, idle_s: float) -> None:
        """Ask a quiet gateway the time: one that answers within `idle_s / 2` is only quiet (off-hours), one
        that does not is silent, hung perhaps: `GatewaySilence` until it sends again."""
        self._heard.clear()
        await self._token()
        if not self._ib.isConnected():
            return
        self._ib.client.reqCurrentTime()
        try:
            await asyncio.wait_for(self._heard.wait(), idle_s / 2)
        except TimeoutError:
            self._silent = True
            self._emit(GatewaySilence(True, idle_s * 1.5))
            return
        self._ib.setTimeout(self._silence_s)  # alive: watch for the next silence

    def _on_data(self) -> None:
        """A packet came from the gateway: it reads again; end a silence, and watch for the next one."""
        self._unanswered = 0
        self._heard.set()
        if self._silent:
            self._silent = False
            self._emit(GatewaySilence(False))
            self._ib.setTimeout(self._silence_s)

    def _on_tickers(self, tickers: set[ib_insync.Ticker]) -> None:
        updates: list[Observation] = []
        for ticker in tickers:
            line = self._lines.get(ticker.contract.conId) if ticker.contract is not None else None
            if line is None or not line.sent or ticker.contract is not line.contract:
                continue
            updates += line.on_tick(_price(ticker.marketPrice()), ticker.time or utc_now())
        if updates and not self._closing:
            self._on_updates(tuple(updates))


def _price(value: float | None) -> float | None:
    """A price as a float, or None for ib_insync's "no price" (None or NaN)."""
    return None if value is None or math.isnan(value) else float(value)


def _unreachable(host: str, port: int, detail: str) -> str:
    """One line that says where we tried and what to check."""
    return (
        f"cannot connect to IB Gateway/TWS at {host}:{port} ({detail}): is the Gateway (or TWS) running "
        f"and logged in, is the API enabled (Configure > Settings > API > Enable ActiveX and Socket "
        f"Clients), is {port} its API port, and is {host} allowed (Trusted IPs)?"
    )
