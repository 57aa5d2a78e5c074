"""The lake writer's backlog: journaled rows not yet committed, per table, and which table may commit when.

A chunk is one journal record's rows for one table, keyed by its rid. A table commits a prefix of its chunks
(in rid order) as one batch whose Delta transaction version is the batch's highest rid; at most one batch
per table is in flight. So "every row of table T with rid <= transaction_version(T) is in the lake" holds at
all times, which is what makes replay and retries exactly-once.

When: by size (`rows >= flush_rows`, checked after each intake and each commit) and by time (every flush
tick takes whatever is pending). A failed commit keeps its rows here and holds the table back with capped
exponential backoff; the next attempt takes everything pending, so a recovered lake catches up in few commits.
Adaptive batching: a table commits at most once per `min_gap_s` (the writer sets it to `ADAPT_FACTOR` x the
median commit time): when commits are slow (object storage) batches grow instead of commits, so rows/s stays
high while commits/s stays at most 1 / (4 x commit time) per table. Only slow commits are paced (median at
least `SLOW_COMMIT_S`): a local lake's (~10 ms) keep committing as soon as they are due. A batch holds at most
`MAX_BATCH_ROWS` rows (at least one chunk) so catching up after a long outage stays a series of bounded
commits.
"""

from dataclasses import dataclass, field

import pyarrow as pa

MAX_BATCH_ROWS = 1_000_000
RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
ADAPT_FACTOR = 4.0
"""Commits take at most about 1 / ADAPT_FACTOR of the time of a table that is busy."""
SLOW_COMMIT_S = 0.05
"""A median commit time from which commits are paced (object storage; a local disk under heavy load)."""


def min_gap_s(commit_p50_s: float) -> float:
    """The least time between two commits of a table, given the median commit time (adaptive batching)."""
    return ADAPT_FACTOR * commit_p50_s if commit_p50_s >= SLOW_COMMIT_S else 0.0


@dataclass(frozen=True)
class Chunk:
    """The rows of one journal record for one table."""

    rid: int
    data: pa.Table


@dataclass
class _TablePending:
    chunks: list[Chunk] = field(default_factory=list)
    rows: int = 0
    in_flight: bool = False
    failures: int = 0
    retry_at: float = 0.0
    last_commit: float = -1e18


class Backlog:
    """Uncommitted rows per table, with the flush and retry decisions (no I/O, no clock of its own)."""

    def __init__(self, flush_rows: int) -> None:
        self.flush_rows = flush_rows
        self.min_gap_s = 0.0
        """Least time between the start of two commits of one table (adaptive batching)."""
        self._tables: dict[str, _TablePending] = {}

    def add(self, table: str, rid: int, data: pa.Table) -> None:
        """Queue a journaled chunk; rids must grow per table."""
        pending = self._tables.setdefault(table, _TablePending())
        if pending.chunks and rid <= pending.chunks[-1].rid:
            raise ValueError(f"{table}: rid {rid} is not above the last pending rid {pending.chunks[-1].rid}")
        pending.chunks.append(Chunk(rid, data))
        pending.rows += data.num_rows

    def due_by_size(self, now: float) -> list[str]:
        """Tables holding at least `flush_rows` rows that may commit now."""
        return [
            name for name, p in self._tables.items() if p.rows >= self.flush_rows and self._may_commit(p, now)
        ]

    def due_by_time(self, now: float) -> list[str]:
        """Tables holding any rows, or whose last batch failed (even an empty one: opening the table), that
        may commit now (called on each flush tick)."""
        return [
            name for name, p in self._tables.items() if (p.chunks or p.failures) and self._may_commit(p, now)
        ]

    def paced_until(self, now: float) -> float | None:
        """When the first table due by size but held back only by `min_gap_s` may commit; None if none is."""
        times = [
            p.last_commit + self.min_gap_s
            for p in self._tables.values()
            if p.rows >= self.flush_rows and not p.in_flight and now >= p.retry_at
        ]
        later = [t for t in times if t > now]
        return min(later) if later else None

    def pending_tables(self) -> list[str]:
        """Tables holding any rows, whether they may commit now or not (for a last batch at stop)."""
        return [name for name, p in self._tables.items() if p.chunks]

    def take(self, table: str, now: float = 0.0) -> list[Chunk]:
        """The next batch of `table` (a prefix of its chunks); the table is in flight until its outcome."""
        pending = self._tables.setdefault(table, _TablePending())
        pending.last_commit = now
        batch: list[Chunk] = []
        rows = 0
        for chunk in pending.chunks:
            if batch and rows + chunk.data.num_rows > MAX_BATCH_ROWS:
                break
            batch.append(chunk)
            rows += chunk.data.num_rows
        pending.in_flight = True
        return batch

    def committed(self, table: str, version: int) -> None:
        """`table` holds every row up to rid `version`: drop those chunks and end its in-flight batch."""
        pending = self._tables.setdefault(table, _TablePending())
        pending.rows -= sum(c.data.num_rows for c in pending.chunks if c.rid <= version)
        pending.chunks = [c for c in pending.chunks if c.rid > version]
        pending.in_flight = False
        pending.failures = 0
        pending.retry_at = 0.0

    def failed(self, table: str, now: float) -> float:
        """The batch of `table` was not committed: hold the table back; returns the delay before a retry."""
        pending = self._tables.setdefault(table, _TablePending())
        pending.in_flight = False
        delay = min(RETRY_MAX_S, RETRY_MIN_S * 2.0 ** min(pending.failures, 32))
        pending.failures += 1
        pending.retry_at = now + delay
        return delay

    def release_point(self, next_rid: int) -> int:
        """The rid up to which every table has committed everything (`next_rid - 1` if nothing waits)."""
        oldest = [p.chunks[0].rid for p in self._tables.values() if p.chunks]
        return min(oldest) - 1 if oldest else next_rid - 1

    @property
    def rows(self) -> int:
        """Rows waiting for a commit, in all tables."""
        return sum(p.rows for p in self._tables.values())

    def _may_commit(self, pending: _TablePending, now: float) -> bool:
        paced = now >= pending.last_commit + self.min_gap_s
        return not pending.in_flight and now >= pending.retry_at and paced
