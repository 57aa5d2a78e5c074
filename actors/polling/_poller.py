"""PollerActor: every `poller.interval_s`, refresh a batch of due queue items without a streaming line.

Receives: PollTick, SnapshotTimeout (its timers); SnapshotsTaken (connection); GetPollerStats (ask).
Sends:    TakeBatch (ask), RecordOutcomes → QUEUE; PositionsRequest (ask), TakeSnapshots → CONNECTION;
          BorrowLines (ask) → SLOT_ALLOCATOR; WriteRows (ask) → LAKE_WRITER.
Owns:     at most one cycle waiting for its snapshots, when each contract's last snapshot was taken, its
          tick and snapshot-deadline timers (lent lines are the connection's to give back).

One cycle (on `PollTick`; the next is armed when the cycle ends, so slow cycles never pile up):
1. ask the QUEUE for due items (most important first): `poller.batch_size` at least, more (up to
   `poller.max_batch`) when the queue's size needs it to refresh every position within `queue.refresh_s`;
2. ask the CONNECTION for their positions (with `poller.request_timeout_s`): quantities and average cost
   from the positions subscription, prices from portfolio updates; no line is used;
3. for the items this gives no price (an active contract waiting for a line, say), borrow up to
   `poller.snapshot_lines` lines the SLOT_ALLOCATOR has free right now (it never queues the request) and
   have the CONNECTION take one snapshot per line, for the contracts whose last snapshot is oldest (never
   first; then in batch order), so every one gets its turn; the connection gives the lines back when the
   snapshots are over and answers `SnapshotsTaken`. The cycle waits for that answer at most
   `request_timeout_s` plus a margin (`SnapshotTimeout`), then goes on;
4. ask the LAKE_WRITER to take the observations (source `poll`, `snapshot` for snapshot prices, closed
   positions as 0);
5. tell the QUEUE the outcomes: it reschedules, backs off, parks and audits.
A connection or lake writer that does not answer defers the batch with the reason (never "flat"); the
items come back after the queue's minimum backoff without counting towards parking.
"""

import math
from collections import Counter
from dataclasses import dataclass

from loguru import logger
from msgspec.structs import replace

from possync.actors import SelfTimer, TreeActor, Unavailable, ask_by_name, tell_by_name
from possync.actors.names import CONNECTION, LAKE_WRITER, QUEUE, SLOT_ALLOCATOR
from possync.actors.polling._refresh import deferred, refresh_batch, wants_snapshot
from possync.config.settings import PollerSettings
from possync.messages.domain import Observation, utc_now
from possync.messages.lake import RowsAccepted, WriteRows
from possync.messages.poller import GetPollerStats, PollerStats, PollTick, PositionsReply, PositionsRequest
from possync.messages.queue import Batch, ItemOutcome, Outcome, RecordOutcomes, TakeBatch
from possync.messages.snapshots import (
    BorrowLines,
    LinesLent,
    Snapshot,
    SnapshotOrder,
    SnapshotsTaken,
    SnapshotTimeout,
    TakeSnapshots,
)
from possync.supervisors import ChildContext

QUEUE_TIMEOUT_S = 5.0
"""How long to wait for the queue (in memory, it answers in microseconds) or the lake writer's ack."""
SNAPSHOT_MARGIN_S = 5.0
"""Beyond `request_timeout_s`, how long a cycle waits for its snapshots (pacing, the connection's inbox)."""


@dataclass(frozen=True)
class _Cycle:
    """A cycle waiting for its snapshots."""

    number: int
    batch: Batch
    reply: PositionsReply
    no_line: str
    """Why a contract with nothing to observe got no snapshot line ("": snapshots are off)."""


class PollerActor(TreeActor):
    """Refreshes due queue items in batches (see the module docstring); ask it `GetPollerStats`."""

    def __init__(self, ctx: ChildContext, settings: PollerSettings, account: str = "") -> None:
        """`account` labels the snapshot of a contract no account holds (the configured `ib.account`)."""
        super().__init__(ctx)
        self._settings = settings
        self._account = account
        self._stats = PollerStats(0, 0, 0, 0, 0, 0, 0.0, 0.0)
        self._started = 0.0
        self._waiting: _Cycle | None = None
        self._snapshot_at: dict[int, float] = {}  # by conid: when its last snapshot was taken

    def on_start(self) -> None:
        """Run the first cycle one interval from now (the gateway is still delivering positions)."""
        self._snapshot_deadline = SelfTimer(self.ctx, self.actor_ref)
        self.timer.arm(self._settings.interval_s, PollTick())

    def on_stop(self) -> None:
        """Drop the pending tick and deadline."""
        super().on_stop()
        self._snapshot_deadline.cancel()

    def on_receive(self, message: object) -> object:
        """Dispatch one message: `PollTick` runs a cycle, `GetPollerStats` answers the counters."""
        match message:
            case PollTick():
                self._started = self.now()
                self._cycle()
            case SnapshotsTaken(snapshots=snapshots) if self._waiting is not None:
                self._snapshot_deadline.cancel()
                self._complete(self._waiting, snapshots)
            case SnapshotTimeout(cycle=cycle) if self._waiting is not None and self._waiting.number == cycle:
                timeout = self._settings.request_timeout_s + SNAPSHOT_MARGIN_S
                logger.warning("poller: no answer to the snapshots within {:.0f}s: going on without", timeout)
                self._complete(replace(self._waiting, no_line="its snapshot did not come back in time"), ())
            case SnapshotsTaken() | SnapshotTimeout():
                pass  # about a cycle that is over
            case GetPollerStats():
                return self._stats
            case _:
                logger.warning("poller: ignored unexpected message {!r}", message)
        return None

    def _cycle(self) -> None:
        if self.ctx.tree.whereis(CONNECTION) is None:
            return self._end_cycle()  # no gateway session: leave the items due rather than defer them all
        try:
            batch: Batch = ask_by_name(self.ctx, QUEUE, self._take_batch(), QUEUE_TIMEOUT_S)
        except Unavailable as error:
            logger.info("poller: no batch this cycle ({})", error)
            return self._end_cycle()
        self._stats = replace(
            self._stats, oldest_observation_age_s=batch.oldest_age_s, batch_limit=batch.limit
        )
        if not batch.items:
            return self._end_cycle()
        conids = tuple(item.contract.conid for item in batch.items)
        try:
            reply = ask_by_name(
                self.ctx, CONNECTION, PositionsRequest(conids), self._settings.request_timeout_s
            )
        except Unavailable as error:
            return self._finish(batch, deferred(batch.items, f"positions request failed: {error}"))
        orders, no_line = self._borrow_lines(batch, reply)
        cycle = _Cycle(self._stats.cycles + 1, batch, reply, no_line)
        if not orders:
            return self._complete(cycle, ())
        self._waiting = cycle
        timeout_s = self._settings.request_timeout_s
        tell_by_name(self.ctx, CONNECTION, TakeSnapshots(orders, timeout_s, self.actor_ref))
        self._snapshot_deadline.arm(timeout_s + SNAPSHOT_MARGIN_S, SnapshotTimeout(cycle.number))
        return None

    def _take_batch(self) -> TakeBatch:
        s = self._settings
        return TakeBatch(s.batch_size, s.interval_s, s.max_batch)

    def _borrow_lines(self, batch: Batch, reply: PositionsReply) -> tuple[tuple[SnapshotOrder, ...], str]:
        """One snapshot order per line lent, for the items without a price; or why there are none."""
        wanted = sorted(
            wants_snapshot(batch.items, reply),
            key=lambda item: self._snapshot_at.get(item.contract.conid, -math.inf),
        )
        lines = min(len(wanted), self._settings.snapshot_lines)
        if not lines:
            return (), ""
        ctx = self.ctx
        request = BorrowLines(ctx.name, ctx.incarnation, lines, self.actor_ref)
        try:
            lent: LinesLent = ask_by_name(ctx, SLOT_ALLOCATOR, request, QUEUE_TIMEOUT_S)
        except Unavailable as error:
            return (), f"the slot allocator did not answer ({error})"
        orders = tuple(
            SnapshotOrder(lease, item.contract) for lease, item in zip(lent.leases, wanted, strict=False)
        )
        return orders, lent.reason or "more contracts without a price than lines lent"

    def _complete(self, cycle: _Cycle, snapshots: tuple[Snapshot, ...]) -> None:
        """Write what the cycle observed and record every item's outcome."""
        self._waiting = None
        taken = {snapshot.conid: snapshot for snapshot in snapshots}
        self._snapshot_at.update(dict.fromkeys(taken, self.now()))
        observations, outcomes = refresh_batch(
            cycle.batch.items, cycle.reply, utc_now(), taken, self._account, cycle.no_line
        )
        self._stats = replace(self._stats, snapshots=self._stats.snapshots + len(snapshots))
        if observations:
            outcomes = self._write(cycle.batch, observations, outcomes)
        self._finish(cycle.batch, outcomes)

    def _write(
        self, batch: Batch, observations: list[Observation], outcomes: list[ItemOutcome]
    ) -> list[ItemOutcome]:
        try:
            ack = ask_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(observations)), QUEUE_TIMEOUT_S)
        except Unavailable as error:
            return deferred(batch.items, f"observations not written: {error}")
        if not isinstance(ack, RowsAccepted):
            return deferred(batch.items, f"observations rejected by the lake writer: {ack}")
        return outcomes

    def _finish(self, batch: Batch, outcomes: list[ItemOutcome]) -> None:
        tell_by_name(self.ctx, QUEUE, RecordOutcomes(tuple(outcomes)))
        self._tally(outcomes)
        self._end_cycle()

    def _end_cycle(self) -> None:
        took = self.now() - self._started
        self.timer.arm(self._settings.interval_s - took, PollTick())
        self._stats = replace(self._stats, cycles=self._stats.cycles + 1, last_cycle_s=took)

    def _tally(self, outcomes: list[ItemOutcome]) -> None:
        counts = Counter(outcome.outcome for outcome in outcomes)
        s = self._stats
        self._stats = replace(
            s,
            processed=s.processed + len(outcomes),
            succeeded=s.succeeded + counts[Outcome.SUCCESS],
            closed=s.closed + counts[Outcome.CLOSED],
            failed=s.failed + counts[Outcome.FAILED],
            deferred=s.deferred + counts[Outcome.DEFERRED],
        )
