"""LakeCommitter on real Delta tables: commits in its thread, reports each outcome, stops as documented."""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from deltalake import DeltaTable

from possync.actors.lake._backlog import Chunk
from possync.actors.lake._committer import LakeCommitter
from possync.actors.lake._query import query
from possync.actors.lake._tables import POSITION_UPDATES
from possync.messages.domain import Contract, Observation, Source, utc_now
from possync.messages.lake import BatchCommitted, CommitFailed
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(60)

APP = "possync-committer-test"
AAPL = Contract(265598, "AAPL", "STK")


def observations(first: int, count: int) -> list[Observation]:
    """Observations whose `position` is their id: first .. first + count - 1."""
    return [
        Observation("DU1", AAPL, float(oid), 1.5, 2.5, Source.STREAM, utc_now())
        for oid in range(first, first + count)
    ]


def ids_in_lake(root: Path) -> Counter[int]:
    """How often each observation id is in `position_updates` under `root`."""
    table = query(DeltaTable(str(root / "position_updates")), "SELECT position FROM t")
    return Counter(int(position) for position in table.column("position").to_pylist())


def chunk(rid: int, first_id: int, count: int = 10) -> Chunk:
    """Journal record `rid`: observations with ids first_id .. first_id + count - 1."""
    return Chunk(rid, POSITION_UPDATES.unpack(POSITION_UPDATES.pack(observations(first_id, count))))


class Reports:
    """The committer's reports, in order (commit times set to 0.0 so they compare); `gate_first` makes the
    first report block until `release()`."""

    def __init__(self, gate_first: bool = False) -> None:
        self.received: list[Any] = []
        self.first_arrived = threading.Event()
        self._gate = threading.Event()
        if not gate_first:
            self._gate.set()

    def __call__(self, outcome: Any) -> None:
        if isinstance(outcome, BatchCommitted):
            assert outcome.seconds >= 0.0
            outcome = msgspec.structs.replace(outcome, seconds=0.0)
        self.received.append(outcome)
        self.first_arrived.set()
        self._gate.wait(10)

    def release(self) -> None:
        self._gate.set()

    def wait_for(self, count: int) -> list[Any]:
        return wait_until(
            lambda: len(self.received) >= count and list(self.received), 20, message=f"{count} reports"
        )


@pytest.fixture
def start_committer() -> Iterator[Callable[..., LakeCommitter]]:
    """Start committers; every one is stopped after the test and its thread must have ended."""
    started: list[tuple[LakeCommitter, Reports]] = []

    def start(root: Path, reports: Reports) -> LakeCommitter:
        committer = LakeCommitter(root, APP, reports)
        started.append((committer, reports))
        return committer

    yield start
    for committer, reports in started:
        reports.release()
        assert committer.stop(10, finish_queued=False)


def test_a_batch_is_committed_and_reported_with_its_highest_rid(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports()
    committer = start_committer(tmp_path, reports)

    committer.submit(POSITION_UPDATES, [chunk(1, 0), chunk(2, 10, count=5)])

    assert reports.wait_for(1) == [BatchCommitted("position_updates", 2, 15)]
    assert sorted(ids_in_lake(tmp_path)) == list(range(15))
    assert DeltaTable(str(tmp_path / "position_updates")).transaction_version(APP) == 2


def test_batches_are_committed_one_after_another_in_the_order_submitted(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports()
    committer = start_committer(tmp_path, reports)

    for rid in range(1, 6):
        committer.submit(POSITION_UPDATES, [chunk(rid, rid * 10)])

    assert reports.wait_for(5) == [BatchCommitted("position_updates", rid, 10) for rid in range(1, 6)]
    assert set(ids_in_lake(tmp_path).values()) == {1}
    assert len(ids_in_lake(tmp_path)) == 50


def test_an_empty_batch_creates_the_table_and_reports_what_it_holds(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports()
    committer = start_committer(tmp_path, reports)

    committer.submit(POSITION_UPDATES, [])

    assert reports.wait_for(1) == [BatchCommitted("position_updates", 0, 0)]
    assert DeltaTable.is_deltatable(str(tmp_path / "position_updates"))


def test_a_batch_already_in_the_table_is_reported_committed_without_writing_it_twice(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports()
    committer = start_committer(tmp_path, reports)
    batch = [chunk(1, 0), chunk(2, 10)]

    committer.submit(POSITION_UPDATES, batch)
    committer.submit(POSITION_UPDATES, batch)  # a retry after a lost report

    assert reports.wait_for(2) == [
        BatchCommitted("position_updates", 2, 20),
        BatchCommitted("position_updates", 2, 0),
    ]
    assert set(ids_in_lake(tmp_path).values()) == {1}


def test_a_batch_for_an_unwritable_location_is_reported_failed_and_the_next_one_still_commits(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    root = tmp_path / "lake"  # not created yet: a missing lake root (an unmounted disk)
    reports = Reports()
    committer = start_committer(root, reports)

    committer.submit(POSITION_UPDATES, [chunk(1, 0)])
    [failed] = reports.wait_for(1)
    assert isinstance(failed, CommitFailed)
    assert failed.table == "position_updates"
    assert "position_updates" in failed.error and str(root) in failed.error

    root.mkdir()
    committer.submit(POSITION_UPDATES, [chunk(1, 0), chunk(2, 10)])  # the writer retries with what is pending

    assert reports.wait_for(2)[1] == BatchCommitted("position_updates", 2, 20)
    assert len(ids_in_lake(root)) == 20


def test_a_lake_root_that_is_a_file_is_reported_failed(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    root = tmp_path / "lake"
    root.write_text("not a directory")
    reports = Reports()
    committer = start_committer(root, reports)

    committer.submit(POSITION_UPDATES, [chunk(1, 0)])

    [failed] = reports.wait_for(1)
    assert isinstance(failed, CommitFailed) and failed.table == "position_updates"


def test_a_clean_stop_commits_the_batches_already_queued(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports()
    committer = start_committer(tmp_path, reports)
    for rid in range(1, 4):
        committer.submit(POSITION_UPDATES, [chunk(rid, rid * 10)])

    assert committer.stop(20, finish_queued=True)

    assert [r.version for r in reports.received] == [1, 2, 3]
    assert len(ids_in_lake(tmp_path)) == 30


def test_a_stop_after_a_crash_skips_the_queued_batches(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports(gate_first=True)  # the committer is busy with batch 1 while 2 and 3 wait
    committer = start_committer(tmp_path, reports)
    for rid in range(1, 4):
        committer.submit(POSITION_UPDATES, [chunk(rid, rid * 10)])
    assert reports.first_arrived.wait(20)

    assert committer.stop(0.2, finish_queued=False) is False  # still busy: left to end on its own
    reports.release()

    assert committer.stop(10, finish_queued=False)
    assert reports.received == [BatchCommitted("position_updates", 1, 10)]
    assert sorted(ids_in_lake(tmp_path)) == list(range(10, 20))


def test_a_clean_stop_that_runs_out_of_time_abandons_what_is_still_queued(
    tmp_path: Path, start_committer: Callable[..., LakeCommitter]
) -> None:
    reports = Reports(gate_first=True)
    committer = start_committer(tmp_path, reports)
    for rid in range(1, 4):
        committer.submit(POSITION_UPDATES, [chunk(rid, rid * 10)])
    assert reports.first_arrived.wait(20)

    assert committer.stop(0.2, finish_queued=True) is False
    reports.release()

    assert committer.stop(10, finish_queued=True)
    assert reports.received == [BatchCommitted("position_updates", 1, 10)]
    assert DeltaTable(str(tmp_path / "position_updates")).transaction_version(APP) == 1
