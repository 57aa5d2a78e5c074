"""StreamActor: one active contract, streamed in real time while it holds a market-data line.

Receives: SlotGranted, SlotQueued, DemoteSlot (allocator); SubscriptionFailed, FeedSuspect, VerifyStream,
          ContractDescribed (connection); CheckSilence, RetryLine (its timers); GetStreamStatus (ask).
Sends:    AcquireSlot, ReleaseSlot → SLOT_ALLOCATOR; Subscribe, Unsubscribe, Resubscribe, DescribeContract
          → CONNECTION; Enqueue, Dequeue → QUEUE; WriteRows → LAKE_WRITER (only its last rows, on stop
          or crash).
Owns:     one line lease at a time (released on every exit path), the line's StreamFeed (registered with
          its supervisor's StreamRows, as are the feeds of lines given back until their last rows are
          taken), its silence and retry timers.

On start it asks the allocator for a line. Granted, it ties the line to this incarnation (`ctx.leases`:
the release cancels the subscription and gives the line back, in that order, exactly once), subscribes
through the connection and tells the queue to stop polling the contract. Without a line it tells the
queue to poll it and waits for a promotion. It gives its line back when demoted for a more important
contract or refused (101), and then waits again. Other refusals (`_refusals`): 200 and 321 park it for
good (queued, no retry); a competing live session (10197) makes it wait without a line and ask again with
backoff (`streams.competing_retry_s`, doubling); any other refusal (no live permission and no delayed
fallback: 354, 10089, 10168) parks it until `streams.refused_retry_s` has passed (or the next reconnect,
which starts a new incarnation). Its status keeps the last refusal's code and text until a line ticks.

Each line gets a `StreamFeed`, which turns ticks and position changes into observations where they arrive
(the connection's threads), from where they go to the update dispatcher at once (see `_feed`). The stream
supervisor takes the same rows from every stream's feeds each `write_interval_s` and hands them to the
lake writer in one `WriteRows` (`_rows`); on stop and on a crash the stream takes its feeds back and hands
what is left over itself. Tick counts and the last tick's time are read from the feed.

A stream that stays silent for `silent_after_s` while the feeds are healthy is resubscribed; while the
connection says silence is expected (`FeedSuspect`), it waits. Outside its contract's trading hours
(contract details, asked through the connection once it has been quiet for half that long, again after
a day: `_hours`) it expects silence too: state `market_closed`, no resubscription; the checks resume when
the market opens.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from types import TracebackType
from typing import Any

from loguru import logger

from possync.actors import SelfTimer, tell_by_name
from possync.actors.names import CONNECTION, LAKE_WRITER, QUEUE, SLOT_ALLOCATOR
from possync.actors.streaming._feed import StreamFeed
from possync.actors.streaming._hours import MarketHours, parse_hours
from possync.actors.streaming._refusals import Refusal, backoff_s, refusal
from possync.actors.streaming._rows import StreamRows
from possync.messages.connection import (
    FeedSuspect,
    Resubscribe,
    Subscribe,
    SubscriptionFailed,
    Unsubscribe,
    VerifyStream,
)
from possync.messages.lake import WriteRows
from possync.messages.lifecycle import ContractDescribed, DescribeContract
from possync.messages.routing import ActiveContract, Dequeue, Enqueue
from possync.messages.slots import AcquireSlot, DemoteSlot, ReleaseSlot, SlotGranted, SlotLease, SlotQueued
from possync.messages.streams import (
    CheckSilence,
    Deliver,
    GetStreamStatus,
    RetryLine,
    StreamState,
    StreamStatus,
    deliver_all,
)
from possync.supervisors import ChildContext, Lease, SupervisedActor

FIRST_VALUES_S = 2.0
FIRST_VALUES = 3
"""A closed market's last values come at once after a subscription (a tick or two): fewer ticks than
`FIRST_VALUES`, all within `FIRST_VALUES_S` of it, are no sign that the market is open."""
HOURS_MAX_AGE_S = 24 * 3600.0
"""Trading hours are asked for again after this long (the gateway lists about a week)."""


@dataclass(frozen=True)
class StreamTemplate:
    """What every StreamActor of a session shares: the silence limit, the default account, the write pace.

    `account` labels the observations of a contract no account holds (the configured `ib.account`);
    `write_interval_s` is how long observations gather before the supervisor hands them to the lake writer.
    """

    silent_after_s: float
    account: str = ""
    write_interval_s: float = 0.5
    refused_retry_s: float = 3600.0
    competing_retry_s: float = 5.0
    competing_retry_max_s: float = 300.0
    min_row_interval_s: float = 0.0
    """At most one row per this many seconds per line (`StreamFeed`); 0: a row for every change."""
    deliver: Deliver = deliver_all
    """The inline update handlers, called before the dispatcher is told (`StreamHandlers.deliver`)."""


def _give_back(ctx: ChildContext, lease: SlotLease) -> None:
    """A line's release: cancel its subscription, then free it (tells only: may run in any thread)."""
    tell_by_name(ctx, CONNECTION, Unsubscribe(lease))
    tell_by_name(ctx, SLOT_ALLOCATOR, ReleaseSlot(lease))


_WITHOUT_LINE = (StreamState.PARKED, StreamState.WAITING)
"""States in which a stream wants no line (until its retry timer asks for one)."""


class StreamActor(SupervisedActor):
    """The stream of one active contract (see the module docstring); ask it `GetStreamStatus`."""

    ctx: ChildContext

    def __init__(
        self, ctx: ChildContext, active: ActiveContract, template: StreamTemplate, rows: StreamRows
    ) -> None:
        """Stream `active`; the feeds of its lines are registered with `rows`, its supervisor's."""
        super().__init__(ctx)
        self._rows = rows
        self._active = active
        self._conid = active.contract.conid
        self._template = template
        self._state = StreamState.REQUESTED
        self._lease: SlotLease | None = None
        self._line: Lease | None = None
        self._feed: StreamFeed | None = None
        self._old_feeds: list[StreamFeed] = []  # of lines given back, while `rows` still takes from them
        self._price: float | None = None  # of the lines given back
        self._quiet_since = 0.0  # the grant, a resubscription or a notice: silence is counted from then on
        self._tick_at: float | None = None  # of the lines given back
        self._suspect = False
        self._reason = ""  # why it waits in the queue or is parked
        self._ticks = self._resubscriptions = 0  # ticks: of the lines given back
        self._refusal: tuple[int, str] | None = None  # the last one, until a line ticks
        self._competing = 0  # 10197 refusals in a row
        self._hours: MarketHours | None = None  # its trading hours (None: unknown, silence is checked)
        self._described_at: float | None = None

    def on_start(self) -> None:
        """Ask the allocator for a line (the answer comes as a message)."""
        ctx = self.ctx
        self._silence = SelfTimer(ctx, self.actor_ref)
        self._retry = SelfTimer(ctx, self.actor_ref)
        if not self._ask_for_line():
            raise RuntimeError(f"{ctx.name}: no slot allocator is running")

    def _ask_for_line(self) -> bool:
        ctx = self.ctx
        self._state = StreamState.REQUESTED
        request = AcquireSlot(ctx.name, ctx.incarnation, self._conid, self._active.priority, self.actor_ref)
        return tell_by_name(ctx, SLOT_ALLOCATOR, request)

    def on_stop(self) -> None:
        """Hand the last observations over and stop the timers (the line is given back by its lease)."""
        self._hand_over()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """A crash loses no observation: what was gathered still goes to the lake writer."""
        self._hand_over()

    def _hand_over(self) -> None:
        self._silence.cancel()
        self._retry.cancel()
        feeds = self._old_feeds if self._feed is None else [*self._old_feeds, self._feed]
        for feed in feeds:
            feed.close()
        rows = self._rows.remove(feeds)
        if rows and not tell_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(rows))):
            logger.error("{}: no lake writer: {} observations lost", self.ctx.name, len(rows))

    def on_receive(self, message: Any) -> Any:
        """Dispatch one message (see the module docstring)."""
        match message:
            case SlotGranted(lease=lease):
                self._granted(lease)
            case SlotQueued():
                self._wait("no market-data line free")
            case DemoteSlot(lease=lease) if lease == self._lease:
                self._drop_line()
                self._wait("demoted for a more important contract")
            case SubscriptionFailed(lease=lease, code=101) if lease == self._lease:  # no line free
                self._drop_line()
                self._wait("the gateway refused the line (101)")
            case SubscriptionFailed(lease=lease, code=code, message=text) if lease == self._lease:
                self._drop_line()
                self._refused(code, text)
            case RetryLine() if self._state in _WITHOUT_LINE:
                self._ask_for_line()
            case FeedSuspect(suspect=suspect):
                self._suspect = suspect
                self._quiet_since = self._now()
            case VerifyStream():
                self._quiet_since = self._now()
            case CheckSilence():
                self._check_silence()
            case ContractDescribed(hours=hours):
                self._hours = parse_hours(hours) if hours is not None else None
                self._described_at = self._now()
            case GetStreamStatus():
                return self._status()
            case DemoteSlot() | SubscriptionFailed() | RetryLine():
                pass  # about a line given back already, or a retry made already
            case _:
                logger.warning("{}: ignored unexpected message {!r}", self.ctx.name, message)
        return None

    # --- the line ---

    def _granted(self, lease: SlotLease) -> None:
        """Take the line `lease`; the allocator's newest grant wins over a line it has taken back (101)."""
        if lease == self._lease:
            return
        if self._state in _WITHOUT_LINE:
            tell_by_name(self.ctx, SLOT_ALLOCATOR, ReleaseSlot(lease))  # it wants no line now
            return
        self._drop_line()
        ctx = self.ctx
        self._lease = lease
        self._line = ctx.leases.acquire(("line", self._conid), partial(_give_back, ctx, lease))
        contract = self._active.contract
        self._feed = StreamFeed(
            ctx.tree.clock, contract, self._template.account, self._template.min_row_interval_s
        )
        self._rows.add(self._feed)
        tell_by_name(ctx, CONNECTION, Subscribe(lease, contract, self.actor_ref, self._feed))
        tell_by_name(ctx, QUEUE, Dequeue(self._conid))
        self._state = StreamState.STREAMING
        self._reason = ""
        self._quiet_since = self._now()
        self._arm_silence_check()

    def _drop_line(self) -> None:
        feed = self._feed
        if feed is not None:
            feed.close()
            self._old_feeds = [*(f for f in self._old_feeds if self._rows.holds(f)), feed]
            self._ticks += feed.ticks
            self._tick_at = feed.last_tick_at or self._tick_at
            self._price = feed.market_price if feed.market_price is not None else self._price
        if self._line is not None:
            self._line.release()
        self._line = self._lease = self._feed = None
        self._silence.cancel()

    def _wait(self, reason: str) -> None:
        self._enqueue(StreamState.QUEUED, reason)

    def _park(self, reason: str) -> None:
        logger.debug("{}: parked: {}", self.ctx.name, reason)  # the connection logs a burst of them once
        self._enqueue(StreamState.PARKED, reason)

    def _refused(self, code: int, text: str) -> None:
        """The gateway refused the line's market data with `code` (see `_refusals`)."""
        self._refusal = (code, text)
        reason = f"the gateway refused its market data ({code}: {text})"
        t = self._template
        match refusal(code):
            case Refusal.PERMANENT:
                self._park(reason)
            case Refusal.COMPETING:
                self._competing += 1
                wait_s = backoff_s(self._competing, t.competing_retry_s, t.competing_retry_max_s)
                self._enqueue(StreamState.WAITING, f"{reason}; asks again in {wait_s:.0f}s")
                self._retry.arm(wait_s, RetryLine())
            case _:
                self._park(f"{reason}; asks again in {t.refused_retry_s:.0f}s or on reconnecting")
                self._retry.arm(t.refused_retry_s, RetryLine())

    def _forget_refusal_once_ticking(self) -> None:
        if self._feed is not None and self._feed.ticks:
            self._refusal, self._competing = None, 0

    def _enqueue(self, state: StreamState, reason: str) -> None:
        self._state, self._reason = state, reason
        tell_by_name(self.ctx, QUEUE, Enqueue(self._active.contract, self._active.priority, reason))

    # --- ticks, observations, silence ---

    def _arm_silence_check(self) -> None:
        self._silence.arm(self._template.silent_after_s / 2, CheckSilence())

    def _check_silence(self) -> None:
        self._forget_refusal_once_ticking()
        if self._lease is None:
            return
        quiet = self._silent_s() >= self._template.silent_after_s / 2  # only then do its hours matter
        if (quiet or self._state is StreamState.MARKET_CLOSED) and self._market_closed():
            return self._arm_silence_check()
        silent_s = self._silent_s()
        if not self._suspect and silent_s >= self._template.silent_after_s:
            self._resubscriptions += 1
            logger.info("{}: no tick for {:.0f}s: resubscribing", self.ctx.name, silent_s)
            tell_by_name(self.ctx, CONNECTION, Resubscribe(self._lease))
            self._quiet_since = self._now()
        self._arm_silence_check()

    def _silent_s(self) -> float:
        last_tick = self._feed.last_tick_at if self._feed is not None else None
        return self._now() - max(self._quiet_since, last_tick or self._quiet_since)

    def _describe(self) -> None:
        """Ask for the contract's trading hours, unless known for less than a day."""
        if self._described_at is None or self._now() - self._described_at > HOURS_MAX_AGE_S:
            tell_by_name(self.ctx, CONNECTION, DescribeContract(self._conid, self.actor_ref))

    def _market_closed(self) -> bool:
        """Whether its market is closed now (silence expected): by its hours, and no tick since the close (a
        gateway that ticks outside the hours it gave is believed); updates the state when that changes."""
        self._describe()
        now = datetime.now(UTC)
        since = self._hours.closed_since(now) if self._hours is not None else None
        closed = since is not None and not self._ticking_since(since, now)
        if closed and self._state is StreamState.STREAMING:
            self._state = StreamState.MARKET_CLOSED
            opens = self._hours.next_open(datetime.now(UTC)) if self._hours else None
            logger.info("{}: market closed (opens {}): silence expected", self.ctx.name, opens or "later")
        elif not closed and self._state is StreamState.MARKET_CLOSED:
            self._state = StreamState.STREAMING
            self._quiet_since = self._now()  # silence is counted from the open
            logger.info("{}: market open: silence checks resume", self.ctx.name)
        return closed

    def _ticking_since(self, since: datetime, now: datetime) -> bool:
        """Whether it ticked after `since` (our time), other than the last values a subscription to a closed
        market gets at once: a gateway that ticks outside the hours it gave is believed."""
        feed = self._feed
        last = feed.last_tick_at if feed is not None else None
        if feed is None or last is None or now - timedelta(seconds=self._now() - last) <= since:
            return False
        return feed.ticks >= FIRST_VALUES or last - self._quiet_since > FIRST_VALUES_S

    def _now(self) -> float:
        return self.ctx.tree.clock.now()

    def _status(self) -> StreamStatus:
        feed = self._feed
        tick_at = feed.last_tick_at if feed is not None and feed.last_tick_at is not None else self._tick_at
        price = feed.market_price if feed is not None and feed.market_price is not None else self._price
        self._forget_refusal_once_ticking()
        last = self._refusal
        return StreamStatus(
            conid=self._conid,
            priority=self._active.priority,
            state=self._state,
            lease=self._lease,
            suspect=self._suspect,
            ticks=self._ticks + (feed.ticks if feed is not None else 0),
            resubscriptions=self._resubscriptions,
            market_price=price,
            last_tick_age_s=None if tick_at is None else self._now() - tick_at,
            symbol=self._active.contract.symbol,
            strategy_id=self._active.strategy_id,
            reason=self._reason,
            data_type=feed.data_type if feed is not None else None,
            refusal_code=last[0] if last is not None else None,
            refusal=last[1] if last is not None else "",
        )
