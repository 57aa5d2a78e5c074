"""Messages of the lake writer, and the rows of the two lake tables that are not observations.

Senders tell (or ask, with a timeout) `WriteRows`; the writer answers `RowsAccepted` once the rows are in its
journal, or `RowsRejected` naming what is wrong (nothing of a rejected message is kept). Rows of any lake
table may travel in one message: an `Observation` goes to `position_updates`, a `StrategyChange` to
`active_strategies`, a `QueueAttempt` to `position_queue`.
"""

from datetime import datetime

import msgspec

from possync.messages.domain import Contract, Observation


class StrategyChange(msgspec.Struct, frozen=True):
    """One event of the `active_strategies` log: the latest row per conid says whether it is active."""

    contract: Contract
    strategy_id: str
    priority: int
    active: bool
    changed_ts: datetime
    changed_by: str


class QueueAttempt(msgspec.Struct, frozen=True):
    """One processing attempt of a queued position (audited in `position_queue`); `error` is "" on success."""

    conid: int
    account: str
    outcome: str
    attempt: int
    error: str
    event_ts: datetime


LakeRow = Observation | StrategyChange | QueueAttempt
"""A row of one of the lake tables; its type names its table."""


class WriteRows(msgspec.Struct, frozen=True):
    """Append these rows to the lake (tell it, or ask it with a timeout to learn they are safe)."""

    rows: tuple[LakeRow, ...]


class RowsAccepted(msgspec.Struct, frozen=True):
    """The writer holds the rows and will commit each exactly once.

    `durable` is True when they are in the journal (they survive a crash of the writer and a kill -9 of the
    process); False when the journal could not be written (disk full, ...): they are kept in memory, journaled
    as soon as the journal works again, and the writer reports itself unhealthy meanwhile.
    """

    rows: int
    durable: bool


class RowsRejected(msgspec.Struct, frozen=True):
    """Nothing of the message was kept: `reason` names the row, the column, the value and the fix."""

    reason: str


class FlushNow(msgspec.Struct, frozen=True):
    """Commit every pending row now instead of waiting for `lake.flush_interval_s` (e.g. before a stop)."""


class GetLakeStatus(msgspec.Struct, frozen=True):
    """Ask for a `LakeStatus` (always with a timeout)."""


class LakeStatus(msgspec.Struct, frozen=True):
    """The writer's counters and health, as /status and /metrics show them.

    `pending_rows` are accepted but not yet committed; `last_error` is "" while healthy.
    """

    healthy: bool
    rows_accepted: int
    rows_written: int
    pending_rows: int
    commits: int
    failed_commits: int
    journal_bytes: int
    last_error: str
    last_commit_age_s: float | None = None
    """Seconds since the last commit that wrote rows; None before the first."""


class FlushTick(msgspec.Struct, frozen=True):
    """Timer → writer: commit what has waited `lake.flush_interval_s`, and retry what is due."""


class BatchCommitted(msgspec.Struct, frozen=True):
    """Committer → writer: `table` holds every pending row up to journal record `version`."""

    table: str
    version: int
    rows: int


class CommitFailed(msgspec.Struct, frozen=True):
    """Committer → writer: the batch for `table` was not committed (the rows are still pending)."""

    table: str
    error: str
