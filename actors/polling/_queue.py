"""QueueActor: the contracts that do not stream, handed to the poller in batches; their outcomes audited.

Receives: PositionChanged (connection); Enqueue, Dequeue (streams); ContractDeactivated (registry);
          TakeBatch (ask), RecordOutcomes (poller); SaveTick, Resync (its timers); GetQueueStatus (ask).
Sends:    GetActiveContracts (ask) → REGISTRY and PositionsRequest (ask) → CONNECTION, to resync;
          WriteRows (ask; a tell on stop) → LAKE_WRITER.
Owns:     the poll queue (`_book.PollQueue`, in memory), its state file (`actors.tree.queue_settings`:
          `<lake.root>/_state/queue.msgpack` by default) and whose it is, the audit rows the lake writer
          has not taken yet, the save and resync timers.

In memory, not a Delta table: handing out and rescheduling an item costs microseconds, not a commit. It
learns items from the positions without a stream (`PositionChanged`), the active contracts without / with
a line (`Enqueue` / `Dequeue`) and the deactivations (that position is polled again).

Durability, so a restart loses and duplicates nothing:
- its own state file (atomic replace) holds every item with its priority, failures and parked reason:
  saved at once after Enqueue / Dequeue / deactivation (which nobody could tell it again), and at most
  `queue.save_interval_s` after anything else changed;
- on start, once it has loaded that file, it asks the connection for the full position list and learns
  every non-active position the file missed (those learned in the last moments before a crash);
- items are keyed by conid: learning one twice changes it, never duplicates it;
- the file records whose state it is (the lake, its position_updates table id, the gateway and accounts):
  a file of another lake or gateway (or, once the gateway reports its accounts, of another login) is
  moved aside with one warning and the queue rebuilds from the gateway's positions;
- loans die with their process: an item on loan is saved as due at once, so a restart after a kill -9
  refreshes it in its first cycle instead of waiting out `queue.lease_s`.
Audit rows (`position_queue`, one per attempt and account) go to the lake writer in one `WriteRows` per
batch of outcomes (the writer batches further into its commits); rows the writer did not take are kept
and sent again on the next save tick.
"""

from collections.abc import Callable
from pathlib import Path

import msgspec
from loguru import logger

from possync.actors import SelfTimer, TreeActor, Unavailable, ask_by_name, tell_by_name
from possync.actors.names import CONNECTION, LAKE_WRITER, REGISTRY
from possync.actors.polling._book import AuditEntry, PollQueue
from possync.actors.polling._identity import StateIdentity, accounts_mismatch
from possync.actors.polling._sizing import batch_limit
from possync.actors.polling._state_file import load_queue_state, save_queue_state, set_aside
from possync.config.settings import QueueSettings
from possync.messages.domain import utc_now
from possync.messages.lake import QueueAttempt, RowsAccepted, WriteRows
from possync.messages.poller import PositionsReply, PositionsRequest
from possync.messages.queue import Batch, GetQueueStatus, RecordOutcomes, Resync, SaveTick, TakeBatch
from possync.messages.registry import GetActiveContracts
from possync.messages.routing import ContractDeactivated, Dequeue, Enqueue, PositionChanged
from possync.supervisors import ChildContext, LastingLog

MAX_PENDING_AUDIT_ROWS = 100_000
"""Audit rows kept while the lake writer is away; beyond this the oldest are dropped (and counted)."""


class QueueActor(TreeActor):
    """The poll queue as an actor (see the module docstring)."""

    def __init__(
        self,
        ctx: ChildContext,
        settings: QueueSettings,
        ask_timeout_s: float = 5.0,
        state_file: Path | None = None,
        identify: Callable[[], StateIdentity] | None = None,
    ) -> None:
        """`state_file`: where the state is kept (`queue.state_file` when None); `identify`: whose state it
        is (read on start, once the lake writer has created the tables)."""
        super().__init__(ctx)
        self._settings = settings
        self._ask_timeout_s = ask_timeout_s
        self._path = state_file or Path(settings.state_file or "queue.msgpack")
        self._identify = identify
        self._identity: StateIdentity | None = None
        self._book = PollQueue(settings)
        self._dirty = False
        self._audit: list[QueueAttempt] = []
        self._dropped_audit = 0
        self._resync_timer = SelfTimer(self.ctx, self.actor_ref)
        self._postponed = LastingLog(level="INFO")

    def on_start(self) -> None:
        """Load the state file, schedule saving, and resync with the gateway's positions."""
        self._identity = self._identify() if self._identify is not None else None
        self._book.restore(load_queue_state(self._path, self._identity), self.now())
        logger.info("queue: restored {} items from {}", len(self._book), self._path)
        self.timer.arm(self._settings.save_interval_s, SaveTick())
        self._resync_timer.arm(0.0, Resync())

    def on_stop(self) -> None:
        """Save the state file; hand buffered audit rows to the lake writer (without waiting)."""
        super().on_stop()
        self._resync_timer.cancel()
        self._save()
        if self._audit:
            tell_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(self._audit)))

    def on_receive(self, message: object) -> object:
        """Dispatch one message (see the module docstring)."""
        now = self.now()
        match message:
            case PositionChanged():
                self._book.learn_position(message, now)
                self._dirty = True
            case TakeBatch():
                limit = self._limit(message)
                items = self._book.take_due(now, limit)
                self._dirty = self._dirty or bool(items)
                return Batch(tuple(items), self._book.oldest_age(now), limit)
            case RecordOutcomes(outcomes=outcomes):
                for outcome in outcomes:
                    self._audit_rows(self._book.record(outcome, now))
                self._dirty = True
                self._send_audit()
            case Enqueue():
                self._book.enqueue(message, now)
                self._save()
            case Dequeue(conid=conid):
                self._book.dequeue(conid)
                self._save()
            case ContractDeactivated(conid=conid):
                self._book.deactivate(conid, now)
                self._save()
            case GetQueueStatus():
                return self._book.status(now)
            case SaveTick():
                if self._dirty:
                    self._save()
                self._send_audit()
                self.timer.arm(self._settings.save_interval_s, message)
            case Resync():
                self._resync()
            case _:
                logger.warning("queue: ignored unexpected message {!r}", message)
        return None

    def _limit(self, request: TakeBatch) -> int:
        """The batch the poller asked for, grown to what the queue's size needs (`_sizing`)."""
        if request.interval_s <= 0:
            return request.limit
        most = max(request.max_limit, request.limit)
        size, refresh_s = len(self._book), self._settings.refresh_s
        return batch_limit(size, request.limit, most, request.interval_s, refresh_s)

    def _save(self) -> None:
        self._learn_table_id()
        try:
            save_queue_state(self._path, self._book.snapshot(self.now()), self._identity)
            self._dirty = False
        except OSError as error:
            logger.error("queue: cannot save {} ({}); retrying on the next tick", self._path, error)

    def _resync(self) -> None:
        """Learn the non-active positions the state file missed; again later until the list is complete."""
        try:
            active = ask_by_name(self.ctx, REGISTRY, GetActiveContracts(), self._ask_timeout_s)
            reply: PositionsReply = ask_by_name(self.ctx, CONNECTION, PositionsRequest(), self._ask_timeout_s)
        except Unavailable as error:
            self._postponed.still("resync", f"queue: resync postponed ({error})")
            self._resync_timer.arm(self._settings.backoff_min_s, Resync())
            return
        self._postponed.ended("resync", "queue: resync with the gateway's positions resumed")
        self._check_accounts(reply.accounts)
        if not reply.complete:
            self._resync_timer.arm(self._settings.backoff_min_s, Resync())
        active_conids = {a.contract.conid for a in active.contracts}
        learned = 0
        for held in reply.positions:
            conid = held.contract.conid
            if conid not in active_conids and conid not in self._book:
                change = PositionChanged(
                    held.account, held.contract, held.position, held.avg_cost, reply.as_of
                )
                learned += self._book.learn_position(change, self.now())
        if learned:
            logger.info("queue: resync learned {} positions the state file missed", learned)
            self._save()

    def _learn_table_id(self) -> None:
        """A new lake's position_updates is created after the queue starts: record its id once it exists."""
        if self._identity is not None and not self._identity.table_id and self._identify is not None:
            table_id = self._identify().table_id
            self._identity = msgspec.structs.replace(self._identity, table_id=table_id)

    def _check_accounts(self, reported: tuple[str, ...]) -> None:
        """Record the gateway's accounts; a state of another login's accounts is set aside and rebuilt."""
        identity = self._identity
        if identity is None or not reported or identity.accounts == reported:
            return
        why = accounts_mismatch(identity, reported)
        if why and self._path.exists():
            set_aside(self._path, why)
            self._book.restore([], self.now())
        self._identity = msgspec.structs.replace(identity, accounts=reported)
        self._save()

    def _audit_rows(self, entries: list[AuditEntry]) -> None:
        ts = utc_now()
        self._audit.extend(
            QueueAttempt(e.conid, e.account, e.outcome, e.attempt, e.error, ts) for e in entries
        )
        overflow = len(self._audit) - MAX_PENDING_AUDIT_ROWS
        if overflow > 0:
            del self._audit[:overflow]
            self._dropped_audit += overflow
            logger.warning("queue: lake writer away; dropped {} oldest audit rows", self._dropped_audit)

    def _send_audit(self) -> None:
        """One WriteRows for every buffered audit row; kept for the next tick unless the writer holds them."""
        if not self._audit:
            return
        try:
            reply = ask_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(self._audit)), self._ask_timeout_s)
        except Unavailable as error:
            logger.info("queue: {} audit rows wait ({})", len(self._audit), error)
            return
        if isinstance(reply, RowsAccepted):
            self._audit.clear()
        else:
            logger.error("queue: lake writer rejected audit rows ({}); dropped", reply)
            self._audit.clear()
