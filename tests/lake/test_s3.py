"""The lake on object storage (moto_server's S3 API, real delta-rs): exactly-once per writer across restarts,
two writers on one table, maintenance by the lease holder only, an unreachable bucket, and other readers."""

from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from possync.actors.lake import POSITION_UPDATES, LakeLocation, LatestPositions, lease_state, maintain_lake
from possync.actors.lake import _sink as delta_sink
from possync.actors.lake._lease import MaintenanceLease
from possync.actors.lake._query import query
from possync.messages.lake import RowsAccepted, WriteRows
from tests.helpers import wait_until
from tests.lake.support import observations, status, wait_committed
from tests.s3 import S3Server

pytestmark = pytest.mark.timeout(90)


def lake(s3: S3Server, name: str) -> LakeLocation:
    return LakeLocation.of(s3.lake_uri(name), s3.storage_options)


def ids(location: LakeLocation) -> Counter[int]:
    """How often each observation id is in `position_updates` of `location`."""
    table = location.open(POSITION_UPDATES.name)
    assert table is not None
    return Counter(int(p) for p in query(table, "SELECT position FROM t").column("position").to_pylist())


def writers_of(location: LakeLocation, operation: str) -> set[str]:
    """The `possync.writer` of every commit of `position_updates` with this operation (WRITE, OPTIMIZE)."""
    table = location.open(POSITION_UPDATES.name)
    assert table is not None
    return {c.get(delta_sink.WRITER_KEY, "") for c in table.history() if c.get("operation") == operation}


def s3_writer(start_writer: Any, s3: S3Server, name: str, local: Path, **extra: Any) -> Any:
    return start_writer(
        root=s3.lake_uri(name),
        storage_options=s3.storage_options,
        local_dir=str(local),
        flush_interval_s=0.05,
        **extra,
    )


def test_a_writer_on_s3_is_exactly_once_across_a_restart_and_every_reader_sees_the_rows(
    start_writer: Any, s3: S3Server, tmp_path: Path
) -> None:
    location = lake(s3, "restart")
    writer = s3_writer(start_writer, s3, "restart", tmp_path / "state")
    assert writer.ask(WriteRows(observations(0, 300)), timeout=10) == RowsAccepted(300, durable=True)
    wait_committed(writer)
    latest = LatestPositions(location)
    assert [o.position for o in latest.refresh().values()] == [299.0]
    writer.stop(timeout=10)
    writer = s3_writer(start_writer, s3, "restart", tmp_path / "state")  # replays an empty journal
    writer.ask(WriteRows(observations(300, 200)), timeout=10)
    done = wait_committed(writer)
    assert [o.position for o in latest.refresh().values()] == [499.0]  # incrementally, by SQL

    assert ids(location) == Counter(range(500))
    assert (tmp_path / "state" / "_journal").is_dir()
    assert done.commit_p50_s > 0 and done.commit_p99_s >= done.commit_p50_s and done.lake == location.uri
    assert len(writers_of(location, "WRITE")) == 1  # one journal: one writer id, stable across the restart
    assert len(LatestPositions(location).refresh()) == 1  # one account, one conid
    frame = pl.read_delta(location.table_uri(POSITION_UPDATES.name), storage_options=s3.reader_options)
    assert frame.height == 500


def test_two_writers_append_to_one_s3_lake_and_only_the_lease_holder_maintains(
    start_writer: Any, s3: S3Server, tmp_path: Path
) -> None:
    location = lake(s3, "fleet")
    first = s3_writer(start_writer, s3, "fleet", tmp_path / "a", flush_rows=10, compact_every_commits=4)
    second = s3_writer(start_writer, s3, "fleet", tmp_path / "b", flush_rows=10, compact_every_commits=4)
    for batch in range(12):
        for index, writer in enumerate((first, second)):
            writer.ask(WriteRows(observations(1000 * index + 10 * batch, 10)), timeout=10)
        wait_until(lambda: all(status(w).pending_rows == 0 for w in (first, second)), 30, 0.02, "commits")

    expected = Counter(range(120)) + Counter(range(1000, 1120))
    assert ids(location) == expected
    assert len(writers_of(location, "WRITE")) == 2
    maintainers = wait_until(lambda: writers_of(location, "OPTIMIZE"), 30, 0.1, "a compaction")
    holder = lease_state(location)
    assert holder is not None and maintainers == {holder.holder}


def test_an_unreachable_bucket_keeps_every_row_reports_it_and_catches_up(
    start_writer: Any, s3: S3Server, tmp_path: Path
) -> None:
    location = lake(s3, "outage")
    writer = s3_writer(start_writer, s3, "outage", tmp_path / "state")
    writer.ask(WriteRows(observations(0, 50)), timeout=10)
    wait_committed(writer)
    s3.cut()
    try:
        for first in range(50, 250, 50):
            reply = writer.ask(WriteRows(observations(first, 50)), timeout=10)
            assert reply == RowsAccepted(50, durable=True)
        down = wait_until(lambda: not (s := status(writer)).healthy and s, 30, 0.05, "unhealthy")
        assert "unreachable" in down.last_error and down.pending_rows == 200
        assert "testing-secret" not in down.last_error
    finally:
        s3.restore()
    wait_committed(writer, timeout=60)
    assert ids(location) == Counter(range(250))


def test_run_maintain_compacts_under_the_lease_and_waits_for_a_holder(
    start_writer: Any, s3: S3Server, tmp_path: Path
) -> None:
    location = lake(s3, "maintain")
    writer = s3_writer(start_writer, s3, "maintain", tmp_path / "state", maintenance="off", flush_rows=5)
    for first in range(0, 30, 5):
        writer.ask(WriteRows(observations(first, 5)), timeout=10)
        wait_committed(writer)

    outcome = maintain_lake(location, lease_s=60)

    assert "position_updates" in outcome.maintained and not outcome.problems
    assert writers_of(location, "OPTIMIZE") and ids(location) == Counter(range(30))
    state = lease_state(location)
    assert state is not None and state.holder.startswith("possync-maintain-")  # released: expires at once
    squatter = MaintenanceLease(location, "someone-else", 60)
    assert squatter.claim()
    assert maintain_lake(location, lease_s=60).held_by.startswith("someone-else")
