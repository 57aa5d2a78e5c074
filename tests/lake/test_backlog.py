"""The backlog's batching decisions: by size, by time, one batch in flight, backoff, journal release point."""

import pyarrow as pa
import pytest

from possync.actors.lake import _backlog as lake_backlog
from possync.actors.lake._backlog import RETRY_MAX_S, RETRY_MIN_S, Backlog, min_gap_s

pytestmark = pytest.mark.timeout(30)


def rows(count: int) -> pa.Table:
    return pa.table({"x": list(range(count))})


def test_a_table_is_due_by_size_only_once_it_holds_flush_rows() -> None:
    backlog = Backlog(flush_rows=10)
    backlog.add("t", 1, rows(6))
    assert backlog.due_by_size(now=0) == []
    assert backlog.due_by_time(now=0) == ["t"]
    backlog.add("t", 2, rows(4))
    assert backlog.due_by_size(now=0) == ["t"]


def test_one_batch_in_flight_per_table_and_commit_drops_what_it_holds() -> None:
    backlog = Backlog(flush_rows=1)
    backlog.add("t", 1, rows(2))
    backlog.add("t", 2, rows(3))
    batch = backlog.take("t")
    backlog.add("t", 5, rows(1))

    assert [c.rid for c in batch] == [1, 2]
    assert backlog.due_by_size(now=0) == backlog.due_by_time(now=0) == []
    backlog.committed("t", 2)
    assert backlog.rows == 1
    assert backlog.due_by_size(now=0) == ["t"]


def test_a_failed_batch_waits_with_capped_exponential_backoff_and_then_retries_everything() -> None:
    backlog = Backlog(flush_rows=1)
    backlog.add("t", 1, rows(1))
    delays = []
    for _ in range(10):
        backlog.take("t")
        delays.append(backlog.failed("t", now=0))
    backlog.add("t", 2, rows(1))

    assert delays[:3] == [RETRY_MIN_S, 2 * RETRY_MIN_S, 4 * RETRY_MIN_S]
    assert max(delays) == RETRY_MAX_S
    assert backlog.due_by_time(now=RETRY_MAX_S - 0.01) == []
    assert [c.rid for c in backlog.take("t")] == [1, 2]
    backlog.committed("t", 2)
    backlog.add("t", 3, rows(1))
    assert backlog.due_by_time(now=0) == ["t"]  # a success ends the backoff


def test_release_point_is_below_the_oldest_uncommitted_chunk_of_any_table() -> None:
    backlog = Backlog(flush_rows=100)
    assert backlog.release_point(next_rid=7) == 6
    backlog.add("a", 3, rows(1))
    backlog.add("b", 4, rows(1))
    backlog.add("a", 5, rows(1))
    assert backlog.release_point(next_rid=6) == 2
    backlog.committed("a", 5)
    assert backlog.release_point(next_rid=6) == 3


def test_a_batch_is_capped_but_takes_at_least_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake_backlog, "MAX_BATCH_ROWS", 5)
    backlog = Backlog(flush_rows=1)
    backlog.add("t", 1, rows(8))
    backlog.add("t", 2, rows(1))
    assert [c.rid for c in backlog.take("t")] == [1]
    backlog.committed("t", 1)
    backlog.add("t", 3, rows(4))
    assert [c.rid for c in backlog.take("t")] == [2, 3]


def test_slow_commits_space_a_tables_commits_and_fast_ones_do_not() -> None:
    assert min_gap_s(0.01) == 0.0 and min_gap_s(0.1) == pytest.approx(0.4)
    backlog = Backlog(flush_rows=10)
    backlog.min_gap_s = 0.4
    backlog.add("t", 1, pa.table({"x": list(range(10))}))
    backlog.committed("t", 0)
    backlog.take("t", now=100.0)
    backlog.committed("t", 0)  # the batch ended at once: the table must still wait for the gap
    assert backlog.due_by_size(100.1) == [] and backlog.paced_until(100.1) == pytest.approx(100.4)
    assert backlog.due_by_size(100.4) == ["t"] and backlog.due_by_time(100.4) == ["t"]
