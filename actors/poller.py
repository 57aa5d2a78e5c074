"""PollerActor: every `poller.interval_s`, refresh a batch of due queue items without a streaming line.

One cycle (on `PollTick`, re-armed after the cycle so slow cycles never pile up):
1. ask the QUEUE for up to `poller.batch_size` due items (most important first);
2. ask the CONNECTION for their positions (`PositionsRequest`, with `poller.request_timeout_s`): quantities
   and average cost from the positions subscription, prices from portfolio updates; no line is used;
3. ask the LAKE_WRITER to take the observations (source `poll`, closed positions as 0);
4. tell the QUEUE the outcomes (`RecordOutcomes`): it reschedules, backs off, parks and audits.
A connection or lake writer that does not answer defers the batch with the reason (never "flat"); the
items come back after the queue's minimum backoff without counting towards parking.
"""

from collections import Counter

from loguru import logger
from msgspec.structs import replace

from actors.asking import Unavailable, ask_by_name, tell_by_name
from actors.poll_refresh import deferred, refresh_batch
from actors.self_timer import TreeActor
from config.settings import PollerSettings
from messages.domain import utc_now
from messages.lake import RowsAccepted, WriteRows
from messages.poller import GetPollerStats, PollerStats, PollTick, PositionsRequest
from messages.queue import Batch, ItemOutcome, Outcome, RecordOutcomes, TakeBatch
from messages.routing import CONNECTION, LAKE_WRITER, QUEUE
from supervisors import ChildContext

QUEUE_TIMEOUT_S = 5.0
"""How long to wait for the queue (in memory, it answers in microseconds) or the lake writer's ack."""


class PollerActor(TreeActor):
    """Refreshes due queue items in batches (see the module docstring); ask it `GetPollerStats`."""

    def __init__(self, ctx: ChildContext, settings: PollerSettings) -> None:
        super().__init__(ctx)
        self._settings = settings
        self._stats = PollerStats(0, 0, 0, 0, 0, 0, 0.0, 0.0)

    def on_start(self) -> None:
        """Run the first cycle one interval from now (the gateway is still delivering positions)."""
        self.timer.arm(self._settings.interval_s, PollTick())

    def on_receive(self, message: object) -> object:
        """Dispatch one message: `PollTick` runs a cycle, `GetPollerStats` answers the counters."""
        match message:
            case PollTick():
                started = self.now()
                self._cycle()
                took = self.now() - started
                self.timer.arm(self._settings.interval_s - took, message)
                self._stats = replace(self._stats, cycles=self._stats.cycles + 1, last_cycle_s=took)
            case GetPollerStats():
                return self._stats
            case _:
                logger.warning("poller: ignored unexpected message {!r}", message)
        return None

    def _cycle(self) -> None:
        if self.tree_ctx.tree.whereis(CONNECTION) is None:
            return  # no gateway session: leave the items due rather than defer them all
        try:
            batch: Batch = ask_by_name(
                self.tree_ctx, QUEUE, TakeBatch(self._settings.batch_size), QUEUE_TIMEOUT_S
            )
        except Unavailable as error:
            logger.info("poller: no batch this cycle ({})", error)
            return
        self._stats = replace(self._stats, oldest_observation_age_s=batch.oldest_age_s)
        if batch.items:
            outcomes = self._refresh(batch)
            tell_by_name(self.tree_ctx, QUEUE, RecordOutcomes(tuple(outcomes)))
            self._tally(outcomes)

    def _refresh(self, batch: Batch) -> list[ItemOutcome]:
        """Fetch, write and judge one batch; every item gets exactly one outcome."""
        conids = tuple(item.contract.conid for item in batch.items)
        try:
            reply = ask_by_name(
                self.tree_ctx, CONNECTION, PositionsRequest(conids), self._settings.request_timeout_s
            )
        except Unavailable as error:
            return deferred(batch.items, f"positions request failed: {error}")
        observations, outcomes = refresh_batch(batch.items, reply, utc_now())
        if not observations:
            return outcomes
        try:
            ack = ask_by_name(self.tree_ctx, LAKE_WRITER, WriteRows(tuple(observations)), QUEUE_TIMEOUT_S)
        except Unavailable as error:
            return deferred(batch.items, f"observations not written: {error}")
        if not isinstance(ack, RowsAccepted):
            return deferred(batch.items, f"observations rejected by the lake writer: {ack}")
        return outcomes

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
