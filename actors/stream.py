"""StreamActor: one active contract, streamed in real time while it holds a market-data line.

On start it asks the allocator for a line (`AcquireSlot`). Granted, it ties the line to this
incarnation (`ctx.leases`: released exactly once on every exit path, which cancels the subscription
and gives the line back, in that order), subscribes through the connection and tells the queue to stop
polling the contract (`Dequeue`). Without a line it tells the queue to poll it (`Enqueue`) and waits
for a promotion. It gives its line back when demoted for a more important contract or refused (101),
and then waits again; a contract the gateway refuses for good (e.g. 200) is parked: queued, no retry.

Each tick with a new market price becomes one observation per account holding the contract (position
and average cost from the positions feed, price from the tick), handed to the registered handlers at once
and to the lake writer in one `WriteRows` per `write_interval_s` (a message per tick would cost the writer
far more than the rows; what is gathered is handed over on stop and on a crash too).

A stream that stays silent for `silent_after_s` while the feeds are healthy is
resubscribed; while the connection says silence is expected (`FeedSuspect`), it waits.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

from loguru import logger

from actors.asking import tell_by_name
from actors.self_timer import SelfTimer
from actors.stream_handlers import StreamHandlers
from messages.connection import (
    FeedSuspect,
    Resubscribe,
    Subscribe,
    SubscriptionFailed,
    TickReceived,
    Unsubscribe,
    VerifyStream,
)
from messages.domain import Contract, Observation, Source
from messages.lake import WriteRows
from messages.routing import (
    CONNECTION,
    LAKE_WRITER,
    QUEUE,
    SLOT_ALLOCATOR,
    ActiveContract,
    Dequeue,
    Enqueue,
    PositionChanged,
)
from messages.slots import AcquireSlot, DemoteSlot, ReleaseSlot, SlotGranted, SlotLease, SlotQueued
from messages.streams import CheckSilence, GetStreamStatus, StreamState, StreamStatus, WriteObservations
from supervisors import ChildContext, Lease, SupervisedActor


@dataclass(frozen=True)
class StreamTemplate:
    """What every StreamActor of a session shares: the handlers, the silence limit, the default account.

    `account` labels the observations of a contract no account holds (the configured `ib.account`);
    `write_interval_s` is how long observations gather before they go to the lake writer.
    """

    handlers: StreamHandlers
    silent_after_s: float
    account: str = ""
    write_interval_s: float = 0.5


def stream_name(conid: int) -> str:
    """The tree name of the stream of `conid`."""
    return f"stream-{conid}"


def _give_back(ctx: ChildContext, lease: SlotLease) -> None:
    """A line's release: cancel its subscription, then free it (tells only: may run in any thread)."""
    tell_by_name(ctx, CONNECTION, Unsubscribe(lease))
    tell_by_name(ctx, SLOT_ALLOCATOR, ReleaseSlot(lease))


class StreamActor(SupervisedActor):
    """The stream of one active contract (see the module docstring); ask it `GetStreamStatus`."""

    def __init__(self, ctx: ChildContext, active: ActiveContract, template: StreamTemplate) -> None:
        super().__init__(ctx)
        self._ctx = ctx
        self._active = active
        self._conid = active.contract.conid
        self._template = template
        self._state = StreamState.REQUESTED
        self._lease: SlotLease | None = None
        self._line: Lease | None = None
        self._positions: dict[str, PositionChanged] = {}
        self._price: float | None = None
        self._last_tick = 0.0  # the last tick or resubscription: when silence is counted from
        self._tick_at: float | None = None
        self._suspect = False
        self._ticks = self._resubscriptions = 0
        self._unwritten: list[Observation] = []

    def on_start(self) -> None:
        """Ask the allocator for a line (the answer comes as a message)."""
        ctx = self._ctx
        self._silence = SelfTimer(ctx, self.actor_ref)
        self._write_timer = SelfTimer(ctx, self.actor_ref)
        request = AcquireSlot(ctx.name, ctx.incarnation, self._conid, self._active.priority, self.actor_ref)
        if not tell_by_name(ctx, SLOT_ALLOCATOR, request):
            raise RuntimeError(f"{ctx.name}: no slot allocator is running")

    def on_stop(self) -> None:
        """Hand the gathered observations over and stop the timers (the line is given back by its lease)."""
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
        self._write()
        self._write_timer.cancel()
        if self._unwritten:
            logger.error("{}: no lake writer: {} observations lost", self._ctx.name, len(self._unwritten))

    def on_receive(self, message: Any) -> Any:
        """Dispatch one message (see the module docstring)."""
        match message:
            case TickReceived(lease=lease) if lease == self._lease:
                self._on_tick(message)
            case PositionChanged():
                self._on_position(message)
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
                self._park(f"the gateway refused its market data ({code}: {text})")
            case FeedSuspect(suspect=suspect):
                self._suspect = suspect
                self._last_tick = self._now()
            case VerifyStream():
                self._last_tick = self._now()
            case WriteObservations():
                self._write()
            case CheckSilence():
                self._check_silence()
            case GetStreamStatus():
                return self._status()
            case TickReceived() | DemoteSlot() | SubscriptionFailed():
                pass  # about a line given back already
            case _:
                logger.warning("{}: ignored unexpected message {!r}", self._ctx.name, message)
        return None

    # --- the line ---

    def _granted(self, lease: SlotLease) -> None:
        """Take the line `lease`; the allocator's newest grant wins over a line it has taken back (101)."""
        if lease == self._lease:
            return
        if self._state is StreamState.PARKED:
            tell_by_name(self._ctx, SLOT_ALLOCATOR, ReleaseSlot(lease))  # it wants no line any more
            return
        self._drop_line()
        ctx = self._ctx
        self._lease = lease
        self._line = ctx.leases.acquire(("line", self._conid), partial(_give_back, ctx, lease))
        tell_by_name(ctx, CONNECTION, Subscribe(lease, self._active.contract, self.actor_ref))
        tell_by_name(ctx, QUEUE, Dequeue(self._conid))
        self._state = StreamState.STREAMING
        self._last_tick = self._now()
        self._arm_silence_check()

    def _drop_line(self) -> None:
        if self._line is not None:
            self._line.release()
        self._line = self._lease = None
        self._silence.cancel()

    def _wait(self, reason: str) -> None:
        self._enqueue(StreamState.QUEUED, reason)

    def _park(self, reason: str) -> None:
        logger.warning("{}: parked: {}", self._ctx.name, reason)
        self._enqueue(StreamState.PARKED, reason)

    def _enqueue(self, state: StreamState, reason: str) -> None:
        self._state = state
        tell_by_name(self._ctx, QUEUE, Enqueue(self._active.contract, self._active.priority, reason))

    # --- ticks, positions, silence ---

    def _on_tick(self, tick: TickReceived) -> None:
        self._ticks += 1
        self._last_tick = self._tick_at = self._now()
        if tick.market_price is not None and tick.market_price != self._price:
            self._price = tick.market_price
            self._observe(tuple(self._positions.values()) or (None,), tick.event_ts)

    def _on_position(self, position: PositionChanged) -> None:
        self._positions[position.account] = position
        if self._price is not None and self._lease is not None:
            self._observe((position,), position.event_ts)

    def _observe(self, positions: tuple[PositionChanged | None, ...], event_ts: datetime) -> None:
        for position in positions:
            row = self._observation(position, event_ts)
            self._template.handlers.dispatch(row)
            if not self._unwritten:
                self._write_timer.arm(self._template.write_interval_s, WriteObservations())
            self._unwritten.append(row)

    def _write(self) -> None:
        """Hand the gathered observations to the lake writer in one message (kept for later if it is down)."""
        if not self._unwritten:
            return
        if tell_by_name(self._ctx, LAKE_WRITER, WriteRows(tuple(self._unwritten))):
            self._unwritten = []
        else:
            self._write_timer.arm(self._template.write_interval_s, WriteObservations())

    def _observation(self, position: PositionChanged | None, event_ts: datetime) -> Observation:
        contract: Contract = self._active.contract if position is None else position.contract
        return Observation(
            account=self._template.account if position is None else position.account,
            contract=contract,
            position=0.0 if position is None else position.position,
            avg_cost=None if position is None else position.avg_cost,
            market_price=self._price,
            source=Source.STREAM,
            event_ts=event_ts,
        )

    def _arm_silence_check(self) -> None:
        self._silence.arm(self._template.silent_after_s / 2, CheckSilence())

    def _check_silence(self) -> None:
        if self._lease is None:
            return
        silent_s = self._now() - self._last_tick
        if not self._suspect and silent_s >= self._template.silent_after_s:
            self._resubscriptions += 1
            logger.info("{}: no tick for {:.0f}s: resubscribing", self._ctx.name, silent_s)
            tell_by_name(self._ctx, CONNECTION, Resubscribe(self._lease))
            self._last_tick = self._now()
        self._arm_silence_check()

    def _now(self) -> float:
        return self._ctx.tree.clock.now()

    def _status(self) -> StreamStatus:
        return StreamStatus(
            conid=self._conid,
            priority=self._active.priority,
            state=self._state,
            lease=self._lease,
            suspect=self._suspect,
            ticks=self._ticks,
            resubscriptions=self._resubscriptions,
            market_price=self._price,
            last_tick_age_s=None if self._tick_at is None else self._now() - self._tick_at,
        )
