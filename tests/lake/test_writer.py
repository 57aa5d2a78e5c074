"""LakeWriterActor on real Delta tables: acks, flushing, rejects, replay, unwritable lake or journal, load."""

import math
import os
import shutil
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from possync.actors.lake import _sink as delta_sink
from possync.actors.lake._tables import TABLES
from possync.messages.domain import utc_now
from possync.messages.lake import (
    FlushNow,
    QueueAttempt,
    RowsAccepted,
    RowsRejected,
    StrategyChange,
    WriteRows,
)
from tests.helpers import captured_log, wait_until
from tests.lake.support import AAPL, ids_in_lake, observation, observations, query, status, wait_committed

pytestmark = pytest.mark.timeout(60)


def write(ref, first: int, count: int) -> RowsAccepted | RowsRejected:
    return ref.ask(WriteRows(observations(first, count)), timeout=10)


def swap_table_for_a_file(root: Path, table: str) -> None:
    """Make the table unwritable for real (as root, permission bits would not stop the writer)."""
    (root / table).rename(root / f"{table}.away")
    (root / table).write_text("a plain file where the table directory was")


def restore_table(root: Path, table: str) -> None:
    (root / table).unlink()
    (root / f"{table}.away").rename(root / table)


def test_an_ack_comes_after_the_journal_and_every_row_reaches_its_table_once(start_writer, lake_root) -> None:
    writer = start_writer()

    replies = [write(writer, first, 100) for first in range(0, 1000, 100)]

    assert replies == [RowsAccepted(100, durable=True)] * 10
    wait_committed(writer)
    counts = ids_in_lake(lake_root)
    assert len(counts) == 1000
    assert set(counts.values()) == {1}


def test_all_tables_are_created_on_start_with_their_documented_schema(start_writer, lake_root) -> None:
    start_writer()
    for table in TABLES:
        path = lake_root / table.name
        wait_until(lambda p=path: DeltaTable.is_deltatable(str(p)), 10, message=f"{path} created")
        schema = pa.schema(DeltaTable(str(path)).schema().to_arrow())
        assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in table.schema]


def test_rows_of_each_kind_go_to_their_own_table(start_writer, lake_root) -> None:
    writer = start_writer()
    change = StrategyChange(AAPL, "momentum", 1, True, utc_now(), "test")
    attempt = QueueAttempt(AAPL.conid, "DU1", "success", 1, "", utc_now())

    assert writer.ask(WriteRows((observation(7), change, attempt)), timeout=10) == RowsAccepted(3, True)

    wait_committed(writer)
    assert ids_in_lake(lake_root) == {7: 1}
    assert query(lake_root, "active_strategies", "SELECT strategy_id FROM t").column(0).to_pylist() == [
        "momentum"
    ]
    assert query(lake_root, "position_queue", "SELECT outcome FROM t").column(0).to_pylist() == ["success"]


def test_a_table_flushes_by_size_at_once_and_the_rest_waits_for_time_or_flush_now(
    start_writer, lake_root
) -> None:
    writer = start_writer(flush_interval_s=3600, flush_rows=100)
    for first in (0, 40, 80):
        write(writer, first, 40)
    wait_until(lambda: status(writer).rows_written == 120, 10, message="size flush")

    write(writer, 120, 40)  # below flush_rows: waits for the (hour-long) interval

    assert status(writer).pending_rows == 40
    assert status(writer).commits == 1
    writer.tell(FlushNow())
    assert wait_committed(writer).rows_written == 160
    assert len(ids_in_lake(lake_root)) == 160


def test_a_table_flushes_by_time_below_flush_rows(start_writer, lake_root) -> None:
    writer = start_writer(flush_interval_s=0.05, flush_rows=1_000_000)
    writer.tell(WriteRows(observations(0, 5)))
    assert wait_committed(writer).rows_written == 5


def test_bad_rows_are_rejected_whole_with_the_reason_and_the_writer_keeps_going(
    start_writer, lake_root
) -> None:
    writer = start_writer()
    naive = observation(1)
    naive = type(naive)(
        **{**{f: getattr(naive, f) for f in naive.__struct_fields__}, "event_ts": naive_now()}
    )

    reply = writer.ask(WriteRows((observation(0), naive)), timeout=10)
    writer.tell(WriteRows((observation(2), "not a row")))  # told: logged, not a crash

    assert isinstance(reply, RowsRejected)
    assert "position_updates.event_ts" in reply.reason and "timezone" in reply.reason
    assert write(writer, 10, 1) == RowsAccepted(1, True)
    wait_committed(writer)
    assert ids_in_lake(lake_root) == {10: 1}
    assert status(writer).rows_accepted == 1


def naive_now():
    return utc_now().replace(tzinfo=None)


def test_rows_journaled_but_not_committed_are_replayed_once_by_the_next_start(
    start_writer, lake_root
) -> None:
    first = start_writer()
    wait_until(lambda: (lake_root / "position_updates").is_dir(), 10, message="table created")
    write(first, 0, 50)
    wait_committed(first)
    swap_table_for_a_file(lake_root, "position_updates")
    write(first, 50, 50)  # acked, but cannot be committed
    first.stop(timeout=10)
    restore_table(lake_root, "position_updates")

    second = start_writer()

    assert wait_committed(second).rows_written == 50
    counts = ids_in_lake(lake_root)
    assert sorted(counts) == list(range(100))
    assert set(counts.values()) == {1}


def test_a_journal_behind_the_lake_is_reported_and_its_next_rows_are_not_taken_for_committed_ones(
    start_writer, lake_root, tmp_path
) -> None:
    """A journal restored from a backup older than the lake: its rids would restart below the lake's
    transaction version, and every new row would be dropped as one the lake already holds."""
    first = start_writer()
    wait_until(lambda: (lake_root / "_journal" / "IDENTITY").exists(), 10, message="journal created")
    backup = tmp_path / "journal-backup"
    shutil.copytree(lake_root / "_journal", backup, ignore=shutil.ignore_patterns("LOCK"))
    for first_id in range(0, 50, 10):
        write(first, first_id, 10)
    wait_committed(first)
    first.stop(timeout=10)
    shutil.rmtree(lake_root / "_journal")
    shutil.copytree(backup, lake_root / "_journal")

    with captured_log("ERROR") as errors:
        second = start_writer()
        wait_until(lambda: any("behind the lake" in line for line in errors), 10, message="reported")
    write(second, 50, 10)

    wait_committed(second)
    assert sorted(ids_in_lake(lake_root)) == list(range(60))


def test_an_unwritable_lake_keeps_everything_reports_unhealthy_backs_off_and_catches_up(
    start_writer, lake_root
) -> None:
    writer = start_writer(flush_interval_s=0.02, flush_rows=10)
    write(writer, 0, 100)
    wait_committed(writer)
    swap_table_for_a_file(lake_root, "position_updates")

    for first in range(100, 600, 50):
        assert write(writer, first, 50) == RowsAccepted(50, durable=True)
    # A crash loop or a hot retry loop would not get here: the third failed attempt waits 4x the first.
    third = wait_until(
        lambda: "retry in 2.0s" in (s := status(writer)).last_error and s, 30, message="backoff"
    )
    assert not third.healthy
    assert third.last_error.startswith("position_updates: ")
    assert third.pending_rows == 500
    assert third.failed_commits == 3
    assert writer.is_alive()

    restore_table(lake_root, "position_updates")

    caught_up = wait_committed(writer, timeout=45)
    assert caught_up.healthy and caught_up.last_error == ""
    counts = ids_in_lake(lake_root)
    assert sorted(counts) == list(range(600))
    assert set(counts.values()) == {1}


def test_an_unopenable_journal_keeps_rows_in_memory_until_it_opens(start_writer, lake_root, tmp_path) -> None:
    blocker = tmp_path / "journal-parent"
    blocker.write_text("a file where the journal's parent directory should be")
    writer = start_writer(journal_dir=blocker / "journal")

    reply = write(writer, 0, 20)
    sick = status(writer)

    assert reply == RowsAccepted(20, durable=False)
    assert not sick.healthy and "cannot open the journal" in sick.last_error
    assert sick.pending_rows == 20
    blocker.unlink()
    assert wait_committed(writer).rows_written == 20
    assert len(ids_in_lake(lake_root)) == 20


def test_a_second_writer_on_the_same_lake_waits_for_the_first(start_writer, lake_root) -> None:
    first = start_writer()
    wait_committed(first)
    second = start_writer()

    assert write(second, 0, 5) == RowsAccepted(5, durable=False)
    assert "in use by another lake writer" in status(second).last_error
    first.stop(timeout=10)

    assert wait_committed(second).rows_written == 5


@pytest.mark.timeout(90)
def test_commits_per_second_stay_bounded_under_load_and_nothing_is_lost(start_writer, lake_root) -> None:
    rate, seconds, batch, flush_rows, flush_interval_s = 20_000, 10.0, 200, 5000, 1.0
    writer = start_writer(flush_interval_s=flush_interval_s, flush_rows=flush_rows)
    wait_committed(writer)
    total = int(rate * seconds)
    started = time.monotonic()
    for first in range(0, total, batch):
        ahead = started + first / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)  # pacing the sender at `rate`, not waiting for a result
        writer.tell(WriteRows(observations(first, batch)))
    done = wait_committed(writer, timeout=60)
    elapsed = time.monotonic() - started

    # by size: at most one commit per flush_rows rows; by time: at most one per tick
    bound = math.ceil(total / flush_rows) + math.ceil(elapsed / flush_interval_s) + 1
    assert done.commits <= bound, f"{done.commits} commits in {elapsed:.1f}s"
    assert done.rows_written == total
    assert len(ids_in_lake(lake_root)) == total


def test_after_many_commits_compaction_keeps_the_file_count_bounded(start_writer, lake_root) -> None:
    writer = start_writer(flush_interval_s=3600, flush_rows=1)
    for first in range(0, 2000, 10):  # 200 commits of 10 rows
        write(writer, first, 10)
        wait_until(lambda f=first: status(writer).rows_written == f + 10, 10, message="commit")

    files = DeltaTable(str(lake_root / "position_updates")).file_uris()
    assert status(writer).commits == 200
    assert len(files) <= delta_sink.COMPACT_EVERY_COMMITS + 1
    assert len(ids_in_lake(lake_root)) == 2000


def test_a_stopped_writer_leaves_no_thread_and_no_open_file(start_writer, lake_root) -> None:
    threads = set(threading.enumerate())
    writer = start_writer()
    write(writer, 0, 10)
    wait_committed(writer)

    writer.stop(timeout=10)

    wait_until(lambda: set(threading.enumerate()) <= threads, 10, message="threads ended")
    assert not [f for f in open_files() if f.startswith(str(lake_root))]


def open_files() -> list[str]:
    """What this process's file descriptors point at."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the descriptor listdir itself used
            continue
    return targets


def test_a_clean_stop_while_a_batch_is_in_flight_commits_every_accepted_row(
    start_writer, lake_root, monkeypatch
) -> None:
    """Found by the fault suite: rows accepted behind a batch still committing stayed in the journal at a
    clean stop (committed only by a next start that may never come), though the stop had time for them."""
    writer = start_writer()
    wait_committed(writer)
    entered, gate = threading.Event(), threading.Event()
    commit = delta_sink.DeltaSink.commit

    def slow_commit(self, chunks):
        if chunks and not entered.is_set():
            entered.set()
            gate.wait(10)
        return commit(self, chunks)

    monkeypatch.setattr(delta_sink.DeltaSink, "commit", slow_commit)
    write(writer, 0, 100)
    wait_until(entered.is_set, 10, message="the first batch is committing")
    assert write(writer, 100, 100) == RowsAccepted(100, durable=True)  # behind the batch in flight

    stopped = writer.stop(block=False)  # queued before the first batch's outcome
    gate.set()
    stopped.get(timeout=10)

    counts = ids_in_lake(lake_root)
    assert sorted(counts) == list(range(200))
    assert set(counts.values()) == {1}
