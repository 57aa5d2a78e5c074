"""ConnectionActor: the gateway session of the tree; the only actor that talks to the IB client (IbSession).

Receives: Subscribe, Unsubscribe, Resubscribe (streams; Unsubscribe also from a released line lease and
          from the allocator reclaiming a leak); TakeSnapshots (poller); PositionChanged, SubscriptionFailed,
          GatewayNotice, GatewaySilence, GatewayDisconnected, SnapshotsOver, AccountDataRestored (its
          IbSession's loop thread); DescribeContract (registry, streams); LostGraceExpired, GatewayHung,
          FlushLogs (its timers); PositionsRequest, GetConnectionStatus (ask); TakePnlRows (ask, PnlActor:
          the P&L channel's changed values).
Sends:    SlotRefused, ReleaseSlot → SLOT_ALLOCATOR; PositionChanged → QUEUE; Updates → UPDATES;
          SubscriptionFailed, FeedSuspect, VerifyStream → the subscribed stream; SnapshotsTaken → the
          poller; ContractDescribed → the asker; position changes to a streamed contract's feed
          (`TickSink` calls, not messages); observations to the inline update handlers (`Deliver`).
Owns:     the IbSession (its loop thread and socket; closed by a lease on every exit path), the market-data
          subscriptions (one per line a stream holds, with its feed), the positions by contract, and the
          1100 grace and hung timers; through the session, the P&L subscriptions (`_pnl`; again on 1101).

On start it connects read-only (the next client id on 326); a gateway that is not there fails the
start with one line saying where it tried and what to check (`OutageLog` keeps retries quiet), and the
SessionSupervisor retries with backoff. Once up it:
- subscribes market data for the streams that hold a line, paced in order by the session's token
  bucket; ticks go straight to the line's `TickSink` (its feed), in the session's loop thread;
- routes every position change to the feed of the stream holding that contract's line (in this actor's
  thread; the observations it makes go to UPDATES), else to the QUEUE (and hands a contract's positions
  to the queue when its line goes, to the feed when one comes);
- turns the gateway's notices into messages: a refused line (101) goes to the stream and to the
  allocator (`SlotRefused`); 1101 resubscribes every line, the positions and the account updates
  (`_account_data`); 1102 asks every stream to verify it still ticks, and the positions once more;
  farm-broken notices (2103/2105/2157), 1100 and a gateway that sends nothing at all for
  `silence_s`, not even the answer to a ping (a hung gateway), make the streams suspect until cleared,
  so none resubscribes into it;
- answers positions from what the IB client holds (no line); gives each line lent for a snapshot back
  once the snapshot is over at the gateway (a 101 as `SlotRefused`).
It exits abnormally when the socket closes, a 1100 outlasts `lost_grace_s` or the gateway stays hung for
`hung_reconnect_s` (counted from the last data it sent): the rest_for_one SessionSupervisor then restarts
it, and everything after it, with a new allocator epoch.
"""

from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn

import pykka
from loguru import logger

from possync.actors import SelfTimer, tell_by_name, to_handlers
from possync.actors.gateway._client import load_client
from possync.actors.gateway._market_data import connection_type
from possync.actors.gateway._outage_log import OutageLog
from possync.actors.gateway._session import IbSession
from possync.actors.gateway._suspects import Suspects
from possync.actors.names import QUEUE, SLOT_ALLOCATOR
from possync.config.settings import IbSettings, PnlSettings
from possync.messages.connection import (
    ConnectionStatus,
    GatewayDisconnected,
    GatewayHung,
    GatewayNotice,
    GatewaySilence,
    GetConnectionStatus,
    LostGraceExpired,
    Resubscribe,
    Subscribe,
    SubscriptionFailed,
    TickSink,
    Unsubscribe,
    VerifyStream,
)
from possync.messages.domain import Observation
from possync.messages.lifecycle import AccountDataRestored, DescribeContract, FlushLogs
from possync.messages.pnl import TakePnlRows
from possync.messages.poller import PositionsRequest
from possync.messages.routing import PositionChanged
from possync.messages.slots import ReleaseSlot, SlotLease, SlotRefused
from possync.messages.snapshots import Snapshot, SnapshotsOver, SnapshotsTaken, TakeSnapshots
from possync.messages.streams import Deliver, deliver_all
from possync.supervisors import BurstLog, ChildContext, SupervisedActor, tell_quietly

CLIENT_ID_TRIES = 8
"""Client ids tried in a row (`ib.client_id` and the next ones) while the gateway says 326 (in use)."""
REFUSED = 101
PACING_VIOLATION = 100
LOST, DATA_LOST, DATA_KEPT = 1100, 1101, 1102
FARM_BROKEN = frozenset({2103, 2105, 2157})
FARM_OK = {2104: 2103, 2106: 2105, 2158: 2157}
"""Each farm-OK notice and the farm-broken notice it clears."""
_CONNECTIVITY = "connectivity"
_SILENCE = "silence"
_POSITIONS_TIMEOUT_S = 5.0


class GatewayLost(ConnectionError):
    """The gateway session ended: the socket closed, or IB stayed unreachable past the grace period."""


@dataclass(frozen=True)
class _Subscriber:
    lease: SlotLease
    reply_to: pykka.ActorRef[Any]
    feed: TickSink


class ConnectionActor(SupervisedActor):
    """The gateway session (see the module docstring); ask it `GetConnectionStatus` or `PositionsRequest`."""

    ctx: ChildContext

    def __init__(
        self,
        ctx: ChildContext,
        settings: IbSettings,
        outage: OutageLog | None = None,
        silence_s: float = 0.0,
        delayed_fallback: bool = False,
        pnl: PnlSettings | None = None,
        deliver: Deliver = deliver_all,
    ) -> None:
        """`silence_s` > 0: after that long without any data from the gateway, the streams are suspect.
        `delayed_fallback`: ask for delayed data where live is not permitted (`_market_data`). `pnl`: the
        P&L channel's settings (off when None). `deliver`: the inline update handlers (`Deliver`)."""
        super().__init__(ctx)
        self._deliver = deliver
        self._data_type = connection_type(settings.market_data_type, delayed_fallback)
        self._refusals: dict[int, int] = {}  # by code, this session
        self._pnl = pnl if pnl is not None and pnl.enabled else PnlSettings(max_subscriptions=0)
        self._silence_s = silence_s
        self._settings = settings
        self._outage = outage or OutageLog()
        self._subscribers: dict[int, _Subscriber] = {}  # by conid
        self._positions: dict[int, dict[str, PositionChanged]] = {}  # by conid, then account
        self._suspects = Suspects()  # why streams may be silent now
        self._lost_token = 0
        self._client_id = settings.client_id
        self._accounts: tuple[str, ...] = ()
        self._burst = BurstLog()  # a burst of refusals is one line with a count and the first conids

    def on_start(self) -> None:
        """Connect (the session is closed on every exit path of this incarnation) and route the positions."""
        settings = self._settings
        self._grace = SelfTimer(self.ctx, self.actor_ref)
        self._flush_logs = SelfTimer(self.ctx, self.actor_ref)
        self._hung = SelfTimer(self.ctx, self.actor_ref)
        self._session = IbSession(
            partial(tell_quietly, self.actor_ref),
            settings.pacing_per_s,
            name=f"{self.ctx.name}-ib-loop",
            silence_s=self._silence_s,
            on_updates=self._updates,
            client=load_client(settings.client),
            market_data_type=self._data_type,
            pnl_subscriptions=self._pnl.max_subscriptions if self._pnl.enabled else 0,
        )
        self.ctx.leases.acquire("ib-session", self._session.close)
        try:
            connected = self._session.connect(
                settings.host,
                settings.port,
                settings.client_id,
                timeout_s=settings.connect_timeout_s,
                account=settings.account,
                readonly=settings.readonly,
                tries=CLIENT_ID_TRIES,
            )
        except ConnectionError as error:
            self._outage.failed(error)
            raise
        self._client_id, self._accounts = connected.client_id, connected.accounts
        self._outage.connected(f"{settings.host}:{settings.port} as client {connected.client_id}")
        for position in connected.positions:
            self._on_position(position)

    def on_stop(self) -> None:
        """Drop the 1100 grace and hung timers (the session itself is closed by its lease)."""
        self._burst.flush()
        self._flush_logs.cancel()
        self._grace.cancel()
        self._hung.cancel()

    def on_receive(self, message: Any) -> Any:
        """Dispatch one message (see the module docstring)."""
        self._burst.flush_stale()
        match message:
            case Subscribe():
                self._subscribe(message)
            case Unsubscribe(lease=lease):
                self._unsubscribe(lease)
            case Resubscribe(lease=lease):
                self._session.resubscribe(lease)
            case PositionChanged():
                self._on_position(message)
            case SubscriptionFailed():
                self._on_refusal(message)
            case GatewayNotice(code=code, message=text):
                self._on_notice(code, text)
            case GatewaySilence(silent=True, seconds=seconds):
                logger.warning("nothing from the gateway for {:.1f}s: streams are suspect", seconds)
                self._set_suspect(_SILENCE, f"nothing from the gateway for {seconds:.0f}s")
                self._hung.arm(self._settings.hung_reconnect_s - seconds, GatewayHung())
            case GatewaySilence():
                logger.info("the gateway sends again")
                self._hung.cancel()
                self._clear_suspect(_SILENCE)
            case GatewayHung() if _SILENCE in self._suspects:
                self._give_up(f"the gateway answered nothing for {self._settings.hung_reconnect_s}s (hung)")
            case GatewayHung():
                pass  # a silence that has ended
            case LostGraceExpired(token=token) if token == self._lost_token:
                self._give_up(f"IB connectivity lost (1100) for more than {self._settings.lost_grace_s}s")
            case LostGraceExpired():
                pass  # an outage that has ended
            case GatewayDisconnected(reason=reason):
                self._give_up(reason)
            case TakeSnapshots(orders=orders, timeout_s=timeout_s):
                self._session.snapshots(orders, timeout_s, partial(self._snapshots_over, message))
            case SnapshotsOver(request=request, snapshots=snapshots):
                self._give_back_lent(request, snapshots)
            case PositionsRequest(conids=conids):
                return self._session.positions(conids, self._settings.account, _POSITIONS_TIMEOUT_S)
            case GetConnectionStatus():
                return self._status()
            case AccountDataRestored():
                self._account_data_restored(message)
            case FlushLogs():
                self._burst.flush()
            case DescribeContract(conid=conid, reply_to=reply_to):
                self._session.describe(conid, partial(tell_quietly, reply_to))
            case TakePnlRows():
                return self._session.pnl_rows(_POSITIONS_TIMEOUT_S)
            case _:
                logger.warning("connection: ignored unexpected message {!r}", message)
        return None

    def _give_up(self, reason: str) -> NoReturn:
        """End this session abnormally: the supervisor reconnects, and restarts everything after us."""
        settings = self._settings
        logger.warning("gateway at {}:{} lost: {}; reconnecting", settings.host, settings.port, reason)
        raise GatewayLost(reason)

    # --- subscriptions and routing ---

    def _subscribe(self, request: Subscribe) -> None:
        conid = request.contract.conid
        feed = request.feed
        self._subscribers[conid] = _Subscriber(request.lease, request.reply_to, feed)
        # the positions before any tick, so that no tick reads as flat
        feed.set_positions(tuple(self._positions.get(conid, {}).values()))
        self._session.subscribe(request.lease, request.contract, feed.on_tick)
        if self._suspects:
            tell_quietly(request.reply_to, self._suspects.notice())

    def _unsubscribe(self, lease: SlotLease) -> None:
        conid = self._conid_of(lease)
        if conid is None:
            return  # already gone: a release is idempotent
        del self._subscribers[conid]
        self._session.unsubscribe(lease)
        self._hand_to_queue(conid)

    def _on_refusal(self, failure: SubscriptionFailed) -> None:
        conid = self._conid_of(failure.lease)
        if conid is None:
            return
        subscriber = self._subscribers.pop(conid)
        self._count_refusal(failure.code)
        if failure.code == REFUSED:  # the allocator first: it must shrink the budget before the line is freed
            self._refused("gateway refused a line (101): the line budget shrinks; conids", conid, "INFO")
            tell_by_name(self.ctx, SLOT_ALLOCATOR, SlotRefused(failure.lease))
        else:
            self._refused(f"gateway refused market data: {failure.code} {failure.message}; conids", conid)
        tell_quietly(subscriber.reply_to, failure)
        self._hand_to_queue(conid)

    def _refused(self, message: str, conid: int, level: str | None = None) -> None:
        """One refusal of a burst: the first logged at once, the count once the burst is quiet for 1 s."""
        self._burst.add(message, conid, level)
        self._flush_logs.arm(1.0, FlushLogs())

    def _snapshots_over(self, request: TakeSnapshots, snapshots: tuple[Snapshot, ...]) -> None:
        """In the loop thread: hand the outcome to this actor."""
        tell_quietly(self.actor_ref, SnapshotsOver(request, snapshots))

    def _give_back_lent(self, request: TakeSnapshots, snapshots: tuple[Snapshot, ...]) -> None:
        """The snapshots are over: their lines go back to the allocator, their outcome to the poller."""
        for order, snapshot in zip(request.orders, snapshots, strict=True):
            if snapshot.code:
                self._count_refusal(snapshot.code)
            if snapshot.code == REFUSED:
                self._burst.add(
                    "gateway refused a snapshot line (101): the budget shrinks; conids",
                    snapshot.conid,
                    "INFO",
                )
                tell_by_name(self.ctx, SLOT_ALLOCATOR, SlotRefused(order.lease))
            else:
                tell_by_name(self.ctx, SLOT_ALLOCATOR, ReleaseSlot(order.lease))
        self._burst.flush()  # one line per kind for the whole batch
        tell_quietly(request.reply_to, SnapshotsTaken(snapshots))

    def _count_refusal(self, code: int) -> None:
        self._refusals[code] = self._refusals.get(code, 0) + 1

    def _conid_of(self, lease: SlotLease) -> int | None:
        return next((conid for conid, sub in self._subscribers.items() if sub.lease == lease), None)

    def _on_position(self, position: PositionChanged) -> None:
        if self._settings.account and position.account != self._settings.account:
            return
        conid = position.contract.conid
        self._positions.setdefault(conid, {})[position.account] = position
        subscriber = self._subscribers.get(conid)
        if subscriber is not None:
            self._updates(subscriber.feed.position_changed(position))
        else:
            tell_by_name(self.ctx, QUEUE, position)

    def _updates(self, rows: tuple[Observation, ...]) -> None:
        """Streamed observations to the inline handlers, then the update dispatcher (any thread)."""
        to_handlers(self.ctx, self._deliver, rows)

    def _hand_to_queue(self, conid: int) -> None:
        """A contract lost its stream: its positions go to the queue from now on, the current ones first."""
        for position in self._positions.get(conid, {}).values():
            tell_by_name(self.ctx, QUEUE, position)

    # --- gateway notices ---

    def _on_notice(self, code: int, text: str) -> None:
        farm = text.rpartition(":")[2]
        if code == LOST:
            self._lost()
        elif code in (DATA_LOST, DATA_KEPT):
            self._restored(data_lost=code == DATA_LOST)
        elif code in FARM_BROKEN:
            logger.warning("gateway notice {}: {}; streams are suspect until it is OK", code, text)
            self._set_suspect((code, farm), text)
        elif code in FARM_OK:
            logger.info("gateway notice {}: {}", code, text)
            self._clear_suspect((FARM_OK[code], farm))
        elif code == PACING_VIOLATION:
            logger.error("gateway says we exceeded its message rate (100): {}", text)
        else:
            logger.info("gateway notice {}: {}", code, text)

    def _lost(self) -> None:
        grace = self._settings.lost_grace_s
        logger.warning("gateway lost IB (1100); reconnecting unless it is back within {}s", grace)
        self._lost_token += 1
        self._grace.arm(grace, LostGraceExpired(self._lost_token))
        self._set_suspect(_CONNECTIVITY, "IB connectivity lost (1100)")

    def _restored(self, data_lost: bool) -> None:
        self._lost_token += 1
        self._grace.cancel()
        self._clear_suspect(_CONNECTIVITY)
        if data_lost:
            logger.warning("gateway dropped our market data (1101): resubscribing {}", len(self._subscribers))
            for subscriber in self._subscribers.values():
                self._session.resubscribe(subscriber.lease)
            self._session.resubmit_pnl()
        else:
            logger.info("gateway reached IB again (1102): verifying {} streams", len(self._subscribers))
            for subscriber in self._subscribers.values():
                tell_quietly(subscriber.reply_to, VerifyStream())
        self._session.resubmit_account_data(data_lost)  # positions and account updates (#14)

    def _account_data_restored(self, outcome: AccountDataRestored) -> None:
        """Log the resubmitted account subscriptions; a gateway that does not answer them is reconnected."""
        what = "resubscribed after 1101" if outcome.data_lost else "verified after 1102"
        if outcome.error:
            self._give_up(f"positions and account updates not {what}: {outcome.error}")
        accounts = ", ".join(outcome.accounts) or "none"
        logger.info("positions ({}) and account updates ({}) {}", outcome.positions, accounts, what)

    def _set_suspect(self, key: object, reason: str) -> None:
        if self._suspects.set(key, reason):
            self._broadcast(self._suspects.notice())

    def _clear_suspect(self, key: object) -> None:
        if self._suspects.clear(key):
            self._broadcast(self._suspects.notice())

    def _broadcast(self, message: Any) -> None:
        for subscriber in self._subscribers.values():
            tell_quietly(subscriber.reply_to, message)

    def _status(self) -> ConnectionStatus:
        return ConnectionStatus(
            host=self._settings.host,
            port=self._settings.port,
            client_id=self._client_id,
            accounts=self._accounts,
            subscriptions=len(self._subscribers),
            requests_sent=self._session.requests_sent,
            requests_pending=self._session.requests_pending,
            pacing_delays=self._session.pacing_delays,
            suspect=self._suspects.reasons(),
            snapshots=self._session.snapshots_in_progress,
            refusals=dict(self._refusals),
            pnl_subscriptions=self._session.pnl_subscriptions,
        )
