"""LakeWriterActor: every row the service writes to the lake; batched, exactly-once, nothing accepted lost.

Receives: WriteRows (told: streams, the queue on stop; asked: queue, poller, reconciler, registry);
          FlushTick (its timer); BatchCommitted, CommitFailed (its committer thread); FlushNow;
          GetLakeStatus (ask).
Sends:    no message to another actor; the rows of each accepted WriteRows to `on_accepted`, in this
          actor's thread (in the service: every accepted observation to the `on_observation` handlers).
Owns:     the journal (`<root>/_journal`, locked), the backlog, the committer thread with one Delta sink
          per table (creation, commits, compaction, checkpoints, vacuum), the flush timer.

It is the only writer of `position_updates` and `position_queue`. `active_strategies` has two: this
writer, for the registry's changes (the facade's `activate` / `deactivate`), and the CLI (`possync activate`
/ `deactivate`, in its own process), which appends directly with `registry.append_change`, retrying a
commit that loses a race; the registry reads the CLI's rows back from the table.

Why not a Delta table as a queue (the seed design): one update commit per item caps out near 50 commits/s,
rewrites whole files and conflicts under concurrency. Here every table is append-only and every commit
carries many rows.

Flow of a `WriteRows` (told, or asked with a timeout):
1. the rows are grouped by table, packed and converted to Arrow; a bad row rejects the whole message
   (`RowsRejected` names table, column and value; nothing of it is kept) instead of poisoning later commits;
2. each table's part becomes one journal record (`_journal`): one os.write, so it survives a crash of
   this actor and a kill -9 of the process; the reply `RowsAccepted(durable=True)` comes only after that;
3. the record's rows wait in the backlog (`_backlog`) until their table flushes: by size
   (`lake.flush_rows`) at once, by time on each tick (`lake.flush_interval_s`);
4. the committer thread (`_committer`) commits the batch with the Delta app transaction
   (journal identity, batch's highest rid) and reports back; committed journal segments are deleted.
Commits per second per table are at most 1/flush_interval_s plus rows/s / flush_rows, and never more than
one at a time: under load, batches just grow.

Several writers (a fleet of services, each with its own journal and so its own app id) may append to one
lake, local or on object storage (`_location`): each is exactly-once on its own; a commit that loses a race
is retried by delta-rs (`lake.max_commit_retries`). Maintenance runs on the writer holding the lake's
maintenance lease (`_lease`), or nowhere (`lake.maintenance = "off"`: `run.py maintain` does it).

Adaptive batching: a table commits at most once per 4 x the median commit time (`_backlog`), so slow commits
make bigger batches; `LakeStatus` reports commit p50/p99 and the median batch.

Durability (exact): an acknowledged row survives a crash of the writer and a kill -9 of the process. It
survives a power loss once the journal is fsynced, which happens on every flush tick and before any of its
rows is handed to the lake; committed data is fsynced by the sink before its journal segment goes.

Recovery: on start the journal is replayed into the backlog and an empty batch per table opens (creating)
each table; every commit drops the rows the table already holds (rid <= its transaction version), so a
replay or a retry never writes a row twice. A torn last journal record is ignored. Should a table hold a
higher rid than the journal's next one (a journal restored from an older backup), the error is logged and rids
continue above it: a new row must never be taken for one the lake already holds.

An unwritable lake (disk full, table path replaced by a file, root gone) is not a crash: the failed batch
stays in the backlog, its table is retried with capped exponential backoff, the status says unhealthy with
the reason, and everything pending goes out in the first commits once the lake is writable again. An
unwritable journal keeps new rows in memory (`RowsAccepted(durable=False)`, unhealthy) and journals them as
soon as it can; only journaled rows are committed, which keeps rids unique across restarts.

Stop: queued work is handed to the committer and waited for up to `STOP_TIMEOUT_S`; whatever is not
committed by then is in the journal and is committed by the next start.
"""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
from loguru import logger

from possync.actors.lake._backlog import Backlog, min_gap_s
from possync.actors.lake._committer import LakeCommitter
from possync.actors.lake._journal import Journal, JournalLockedError
from possync.actors.lake._latency import CommitTimes
from possync.actors.lake._lease import MaintenanceLease
from possync.actors.lake._location import location_of
from possync.actors.lake._tables import TABLES, LakeRowError, LakeTable, split_by_table, table_named
from possync.config.settings import LakeSettings
from possync.messages.lake import (
    BatchCommitted,
    CommitFailed,
    FlushNow,
    FlushPaced,
    FlushTick,
    GetLakeStatus,
    LakeRow,
    LakeStatus,
    RowsAccepted,
    RowsRejected,
    WriteRows,
)
from possync.supervisors.actor import ChildContext, SupervisedActor, tell_quietly
from possync.supervisors.clock import Scheduler, ThreadScheduler, Timer

STOP_TIMEOUT_S = 3.0
CRASH_STOP_TIMEOUT_S = 1.0
JOURNAL = "journal"
"""Key of the journal's error among the per-table errors."""


@dataclass(frozen=True)
class _Unjournaled:
    table: LakeTable
    payload: bytes
    data: pa.Table


class LakeWriterActor(SupervisedActor):
    """Writes the service's rows to the lake (see the module docstring); tell or ask it `WriteRows`."""

    crash_on_ask_error = True
    """A bug in a handler restarts the writer from its journal rather than leaving it half-updated."""

    def __init__(
        self,
        ctx: ChildContext | None,
        settings: LakeSettings,
        journal_dir: str | Path | None = None,
        on_accepted: Callable[[tuple[LakeRow, ...]], None] | None = None,
    ) -> None:
        """Write under `settings.root`; the journal defaults to `<local_dir>/_journal`. `on_accepted` is
        called (in this actor's thread) with the rows of every `WriteRows` once they are accepted."""
        super().__init__(ctx)
        self.settings = settings
        self._on_accepted = on_accepted
        self._location = location_of(settings)
        self._journal_dir = Path(journal_dir) if journal_dir is not None else self._location.journal_dir()
        self._times = CommitTimes()
        self._owns_scheduler = ctx is None
        self._scheduler: Scheduler | None = None if ctx is None else ctx.tree.scheduler
        self._backlog = Backlog(settings.flush_rows)
        self._unjournaled: deque[_Unjournaled] = deque()
        self._journal: Journal | None = None
        self._committer: LakeCommitter | None = None
        self._tick: Timer | None = None
        self._paced: Timer | None = None
        self._errors: dict[str, str] = {}
        self._rows_accepted = 0
        self._rows_written = 0
        self._commits = 0
        self._failed_commits = 0
        self._committed_at: float | None = None

    def on_start(self) -> None:
        """Open and replay the journal (or report why not and retry on each tick), then start ticking."""
        try:
            if self._scheduler is None:
                self._scheduler = ThreadScheduler()
            self._open_journal()
            self._schedule_tick()
        except BaseException:  # pykka runs neither on_stop nor on_failure after a failed on_start
            self._shutdown(finish_queued=False)
            raise

    def on_receive(self, message: Any) -> Any:
        """Dispatch the writer's messages (see messages.lake)."""
        match message:
            case WriteRows(rows=rows):
                reply = self._accept(rows)
                if self._on_accepted is not None and isinstance(reply, RowsAccepted):
                    self._on_accepted(rows)
                return reply
            case FlushTick():
                self._on_tick()
            case FlushPaced():
                self._paced = None
                self._flush(self._backlog.due_by_size(self._now()))
                self._schedule_paced()
            case BatchCommitted():
                self._on_committed(message)
            case CommitFailed():
                self._on_failed(message)
            case FlushNow():
                self._journal_pending()
                self._flush(self._backlog.due_by_time(math.inf))
            case GetLakeStatus():
                return self._status()
            case _:
                logger.warning("lake writer ignored an unknown message {!r}", message)
        return None

    def on_stop(self) -> None:
        """Hand every pending row to the committer, wait a bounded time, close the journal.

        Also the rows of a table whose batch is still in flight or waiting for a retry: the committer runs
        batches in order, and a commit skips the rows its table already holds, so they go in once.
        """
        self._journal_pending()
        self._flush(self._backlog.pending_tables())
        self._shutdown(finish_queued=True)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Release the journal and the committer quickly; the next incarnation replays the journal."""
        self._shutdown(finish_queued=False)

    def _accept(self, rows: tuple[Any, ...]) -> RowsAccepted | RowsRejected:
        try:
            parts = [(table, table.pack_and_convert(part)) for table, part in split_by_table(rows).items()]
            pending = [_Unjournaled(table, payload, arrow) for table, (payload, arrow) in parts]
        except LakeRowError as error:
            logger.warning("lake writer rejected a WriteRows: {}", error)
            return RowsRejected(str(error))
        self._unjournaled.extend(pending)
        self._rows_accepted += len(rows)
        self._journal_pending()
        self._flush(self._backlog.due_by_size(self._now()))
        self._schedule_paced()
        return RowsAccepted(len(rows), durable=not self._unjournaled)

    def _journal_pending(self) -> None:
        """Journal the accepted rows not yet journaled, in order; each journaled record joins the backlog."""
        if not self._unjournaled or (self._journal is None and not self._open_journal()):
            return
        assert self._journal is not None
        while self._unjournaled:
            item = self._unjournaled[0]
            try:
                rid = self._journal.append(item.table.name, item.payload)
            except OSError as error:
                self._set_error(
                    JOURNAL, f"journal {self._journal_dir} unwritable, rows kept in memory: {error}"
                )
                return
            self._unjournaled.popleft()
            self._backlog.add(item.table.name, rid, item.data)
        self._clear_error(JOURNAL)

    def _open_journal(self) -> bool:
        """Open and replay the journal, start the committer; False (and unhealthy) if it cannot be opened."""
        try:
            self._location.local_dir.mkdir(parents=True, exist_ok=True)
            journal = Journal(self._journal_dir)
        except (OSError, JournalLockedError) as error:
            self._set_error(JOURNAL, f"cannot open the journal {self._journal_dir}: {error}")
            return False
        self._journal = journal
        records = journal.replay()
        for record in records:
            try:
                self._backlog.add(record.table, record.rid, table_named(record.table).unpack(record.payload))
            except LakeRowError as error:
                logger.error("journal record {} cannot be replayed and is dropped: {}", record.rid, error)
        if records:
            logger.info("lake writer replayed {} journal records ({} rows)", len(records), self._backlog.rows)
        app_id = f"possync-lake-writer-{journal.identity}"
        lease = None
        if self.settings.maintenance == "auto":
            lease = MaintenanceLease(self._location, app_id, self.settings.maintenance_lease_s)
        self._committer = LakeCommitter(
            self._location,
            app_id,
            self._tell_self,
            self.settings.max_commit_retries,
            lease,
            self.settings.compact_every_commits,
        )
        for table in TABLES:
            self._submit(table.name)
        self._clear_error(JOURNAL)
        return True

    def _on_tick(self) -> None:
        if self._journal is None:
            self._open_journal()
        self._journal_pending()
        self._sync_journal()
        self._flush(self._backlog.due_by_time(self._now()))
        self._schedule_tick()

    def _on_committed(self, message: BatchCommitted) -> None:
        self._backlog.committed(message.table, message.version)
        self._keep_rids_ahead_of(message)
        if message.rows:
            self._commits += 1
            self._rows_written += message.rows
            self._times.add(message.seconds, message.rows)
            self._backlog.min_gap_s = min_gap_s(self._times.seconds(0.5))
            self._committed_at = self._now()
        self._clear_error(message.table)
        self._release_journal()
        self._flush(self._backlog.due_by_size(self._now()))
        self._schedule_paced()

    def _keep_rids_ahead_of(self, message: BatchCommitted) -> None:
        """Never hand out a rid the lake already holds: its commits would drop those rows as done."""
        assert self._journal is not None
        if (was := self._journal.next_rid) <= message.version:
            self._journal.next_rid = message.version + 1
            text = "journal {} behind the lake ({} holds record {}, next was {}; an old backup?): rids go on"
            logger.error(text, self._journal_dir, message.table, message.version, was)

    def _on_failed(self, message: CommitFailed) -> None:
        delay = self._backlog.failed(message.table, self._now())
        self._failed_commits += 1
        self._set_error(
            message.table,
            f"{message.error} (lake {self._location} unreachable or unwritable; rows kept; "
            f"retry in {delay:.1f}s)",
        )

    def _flush(self, tables: list[str]) -> None:
        for name in tables:
            self._submit(name)

    def _submit(self, table: str) -> None:
        """Hand the next batch of `table` to the committer, its rows fsynced in the journal first."""
        assert self._committer is not None
        chunks = self._backlog.take(table, self._now())
        self._sync_journal()
        self._committer.submit(table_named(table), chunks)

    def _sync_journal(self) -> None:
        if self._journal is None:
            return
        try:
            self._journal.sync()
        except OSError as error:
            self._set_error(JOURNAL, f"journal {self._journal_dir} cannot be synced: {error}")

    def _release_journal(self) -> None:
        assert self._journal is not None
        try:
            self._journal.release(self._backlog.release_point(self._journal.next_rid))
        except OSError as error:
            self._set_error(JOURNAL, f"journal {self._journal_dir}: committed segments not deleted: {error}")

    def _status(self) -> LakeStatus:
        return LakeStatus(
            healthy=not self._errors,
            rows_accepted=self._rows_accepted,
            rows_written=self._rows_written,
            pending_rows=self._backlog.rows + sum(item.data.num_rows for item in self._unjournaled),
            commits=self._commits,
            failed_commits=self._failed_commits,
            journal_bytes=self._journal.size_bytes if self._journal is not None else 0,
            last_error=next(reversed(self._errors.values()), ""),
            commit_p50_s=self._times.seconds(0.5),
            commit_p99_s=self._times.seconds(0.99),
            batch_rows_p50=self._times.rows_median(),
            lake=str(self._location),
            last_commit_age_s=None if self._committed_at is None else self._now() - self._committed_at,
        )

    def _set_error(self, source: str, error: str) -> None:
        if source not in self._errors:
            logger.warning("lake writer unhealthy: {}", error)
        self._errors.pop(source, None)
        self._errors[source] = error

    def _clear_error(self, source: str) -> None:
        if self._errors.pop(source, None) is not None:
            logger.info(
                "lake writer: {} works again; catching up {} pending rows", source, self._backlog.rows
            )

    def _now(self) -> float:
        assert self._scheduler is not None
        return self._scheduler.clock.now()

    def _schedule_tick(self) -> None:
        assert self._scheduler is not None
        self._tick = self._scheduler.schedule(
            self.settings.flush_interval_s, partial(self._tell_self, FlushTick())
        )

    def _schedule_paced(self) -> None:
        """Wake up when a table due by size but paced by adaptive batching may commit (one timer at most)."""
        if self._paced is not None or (at := self._backlog.paced_until(now := self._now())) is None:
            return
        assert self._scheduler is not None
        self._paced = self._scheduler.schedule(at - now, partial(self._tell_self, FlushPaced()))

    def _tell_self(self, message: Any) -> None:
        tell_quietly(self.actor_ref, message)

    def _shutdown(self, finish_queued: bool) -> None:
        for timer in (self._tick, self._paced):
            if timer is not None:
                timer.cancel()
        if self._committer is not None:
            self._committer.stop(STOP_TIMEOUT_S if finish_queued else CRASH_STOP_TIMEOUT_S, finish_queued)
        if self._journal is not None:
            self._sync_journal()
            self._journal.close()
        if self._unjournaled:
            lost = sum(item.data.num_rows for item in self._unjournaled)
            logger.error("lake writer stopped with {} rows it could never journal: they are lost", lost)
        if self._owns_scheduler and self._scheduler is not None:
            self._scheduler.close()
