"""DeltaSink on real Delta tables: exactly-once commits, racing incarnations, schema evolution, upkeep."""

import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from possync.actors.lake import _sink as delta_sink
from possync.actors.lake._backlog import Chunk
from possync.actors.lake._sink import DeltaSink
from possync.actors.lake._tables import ACTIVE_STRATEGIES, POSITION_UPDATES
from possync.actors.registry._store import append_change
from possync.messages.domain import utc_now
from possync.messages.lake import StrategyChange
from tests.lake.support import AAPL, ids_in_lake, observations, query

pytestmark = pytest.mark.timeout(60)

APP = "possync-lake-writer-test"


def chunk(rid: int, first_id: int, count: int = 10) -> Chunk:
    return Chunk(rid, POSITION_UPDATES.unpack(POSITION_UPDATES.pack(observations(first_id, count))))


def test_a_batch_retried_after_it_was_committed_is_not_written_again(tmp_path: Path) -> None:
    sink = DeltaSink(tmp_path, POSITION_UPDATES, APP)
    first = [chunk(1, 0), chunk(2, 10)]

    assert sink.commit(first) == (2, 20)
    assert sink.commit([*first, chunk(5, 20)]) == (5, 10)  # the retry carries one new chunk
    assert sink.commit(first) == (5, 0)

    assert set(ids_in_lake(tmp_path).values()) == {1}
    assert len(ids_in_lake(tmp_path)) == 30
    assert DeltaTable(str(tmp_path / "position_updates")).transaction_version(APP) == 5


def test_two_incarnations_racing_on_one_table_write_each_row_once(tmp_path: Path) -> None:
    """A stale incarnation's committer may still be committing when the new one starts."""
    batches = [chunk(rid, rid * 10) for rid in range(1, 41)]
    sinks = [DeltaSink(tmp_path, POSITION_UPDATES, APP) for _ in range(2)]
    sinks[0].commit([])  # create the table first

    def commit_growing_prefixes(sink: DeltaSink) -> None:
        for end in range(1, len(batches) + 1):
            sink.commit(batches[:end])

    threads = [threading.Thread(target=commit_growing_prefixes, args=(sink,)) for sink in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    counts = ids_in_lake(tmp_path)
    assert len(counts) == 400
    assert set(counts.values()) == {1}


def test_an_existing_table_without_a_documented_column_gains_it(tmp_path: Path) -> None:
    older = POSITION_UPDATES.unpack(POSITION_UPDATES.pack(observations(0, 3))).drop_columns(["market_price"])
    write_deltalake(str(tmp_path / "position_updates"), older)

    DeltaSink(tmp_path, POSITION_UPDATES, APP).commit([chunk(1, 100, 2)])

    table = DeltaTable(str(tmp_path / "position_updates"))
    evolved = pa.schema(table.schema().to_arrow())
    assert {f.name: f.type for f in evolved} == {f.name: f.type for f in POSITION_UPDATES.schema}
    assert evolved.names[-1] == "market_price"  # merged in at the end
    prices = query(tmp_path, "position_updates", "SELECT position, market_price FROM t ORDER BY position")
    assert prices.column("market_price").to_pylist() == [None, None, None, 2.5, 2.5]


def test_compaction_keeps_the_file_count_bounded_and_the_transaction_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delta_sink, "COMPACT_EVERY_COMMITS", 10)
    sink = DeltaSink(tmp_path, POSITION_UPDATES, APP)
    for rid in range(1, 56):
        sink.commit([chunk(rid, rid * 10)])
        sink.maintain_if_due()

    table = DeltaTable(str(tmp_path / "position_updates"))
    assert len(table.file_uris()) <= 10
    assert table.transaction_version(APP) == 55
    assert (tmp_path / "position_updates" / "_delta_log" / "_last_checkpoint").exists()
    assert set(ids_in_lake(tmp_path).values()) == {1}
    assert len(ids_in_lake(tmp_path)) == 550


def test_a_table_of_an_older_possync_keeps_its_log_an_hour_after_maintenance_not_a_day(
    tmp_path: Path,
) -> None:
    """The log outlived the data files vacuum removes: a day of commits on disk for no time travel."""
    old = {
        "delta.deletedFileRetentionDuration": "interval 1 hours",
        "delta.logRetentionDuration": "interval 1 days",
    }
    DeltaTable.create(str(tmp_path / "position_updates"), POSITION_UPDATES.schema, configuration=old)
    sink = DeltaSink(tmp_path, POSITION_UPDATES, APP)
    sink.commit([chunk(1, 0)])

    assert sink.maintain(vacuum=True) == ""

    configuration = DeltaTable(str(tmp_path / "position_updates")).metadata().configuration
    assert configuration == delta_sink.TABLE_CONFIGURATION
    assert configuration["delta.logRetentionDuration"] == "interval 1 hours"
    assert len(ids_in_lake(tmp_path)) == 10


def test_a_retention_the_user_chose_is_left_alone(tmp_path: Path) -> None:
    mine = {"delta.logRetentionDuration": "interval 7 days"}
    DeltaTable.create(str(tmp_path / "position_updates"), POSITION_UPDATES.schema, configuration=mine)
    sink = DeltaSink(tmp_path, POSITION_UPDATES, APP)
    sink.commit([chunk(1, 0)])

    assert sink.maintain(vacuum=False) == ""

    assert DeltaTable(str(tmp_path / "position_updates")).metadata().configuration == mine


def test_compaction_while_another_writer_appends_loses_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI appends to active_strategies while the writer compacts it: conflicts are retried, not fatal."""
    monkeypatch.setattr(delta_sink, "COMPACT_EVERY_COMMITS", 1)
    sink = DeltaSink(tmp_path, ACTIVE_STRATEGIES, APP)
    sink.commit([])
    stop = threading.Event()
    appended: list[int] = []

    def other_writer() -> None:
        n = 0
        while not stop.is_set() or n < 20:
            n += 1
            row = StrategyChange(AAPL, f"cli-{n}", 1, True, utc_now(), "cli")
            append_change(tmp_path, row, attempts=20)  # the CLI's own append, retrying lost commit races
            appended.append(n)

    thread = threading.Thread(target=other_writer)
    thread.start()
    for rid in range(1, 31):
        row = StrategyChange(AAPL, f"writer-{rid}", 1, True, utc_now(), "writer")
        sink.commit([Chunk(rid, ACTIVE_STRATEGIES.unpack(ACTIVE_STRATEGIES.pack([row])))])
        sink.maintain_if_due()  # compaction on every commit, racing the other writer
    stop.set()
    thread.join()

    ids = query(tmp_path, "active_strategies", "SELECT strategy_id FROM t").column("strategy_id").to_pylist()
    expected = [f"writer-{rid}" for rid in range(1, 31)] + [f"cli-{n}" for n in appended]
    assert sorted(ids) == sorted(expected)


def test_an_unwritable_table_commits_nothing_and_catches_up_once_it_is_back(tmp_path: Path) -> None:
    sink = DeltaSink(tmp_path, POSITION_UPDATES, APP)
    sink.commit([chunk(1, 0)])
    table_dir = tmp_path / "position_updates"
    table_dir.rename(tmp_path / "moved")
    table_dir.write_text("not a directory")  # a plain file where the table was

    with pytest.raises(Exception, match=r"(?i)not a directory|not found|no such|exists"):
        sink.commit([chunk(1, 0), chunk(2, 10)])

    table_dir.unlink()
    (tmp_path / "moved").rename(table_dir)
    assert sink.commit([chunk(1, 0), chunk(2, 10)]) == (2, 10)
    assert len(ids_in_lake(tmp_path)) == 20


def test_old_half_written_staging_files_are_removed_when_the_table_opens(tmp_path: Path) -> None:
    DeltaSink(tmp_path, POSITION_UPDATES, APP).commit([])
    table_dir = tmp_path / "position_updates"
    old = table_dir / "part-00000-dead.snappy.parquet#1"
    fresh = table_dir / "part-00001-live.snappy.parquet#1"
    for path in (old, fresh):
        path.write_bytes(b"half a parquet file")
    stale = time.time() - delta_sink.DEBRIS_AGE_S - 10
    os.utime(old, (stale, stale))

    DeltaSink(tmp_path, POSITION_UPDATES, APP).commit([chunk(1, 0)])

    assert not old.exists()
    assert fresh.exists()  # may belong to another writer's commit in progress
