"""The write-ahead journal on a real directory: replay, torn records, high-water mark, lock, failed write."""

import os
import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from possync.actors.lake import _journal as journal_module
from possync.actors.lake._journal import MAGIC, Journal, JournalLockedError

pytestmark = pytest.mark.timeout(30)


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def fill(journal: Journal, count: int, table: str = "t") -> list[int]:
    return [journal.append(table, f"payload {n}".encode()) for n in range(count)]


def test_records_come_back_in_rid_order_after_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    rids = [journal.append("a", b"one"), journal.append("b", b"two"), journal.append("a", b"three")]
    journal.close()

    reopened = Journal(tmp_path)
    records = reopened.replay()
    reopened.close()

    assert rids == [1, 2, 3]
    assert [(r.rid, r.table, r.payload) for r in records] == [
        (1, "a", b"one"),
        (2, "b", b"two"),
        (3, "a", b"three"),
    ]
    assert reopened.replay() == []  # returned once


@pytest.mark.parametrize("cut", [1, 4, 8, 12, -1])
def test_a_torn_last_record_is_ignored_and_its_rid_reused(tmp_path: Path, cut: int) -> None:
    journal = Journal(tmp_path)
    fill(journal, 3)
    journal.close()
    segment = segments(tmp_path)[-1]
    data = segment.read_bytes()
    last_frame = len(data) - (journal_module.FRAME.size + len(_encoded_last(tmp_path)))
    segment.write_bytes(data[: last_frame + cut] if cut > 0 else data[:-1])

    reopened = Journal(tmp_path)
    records = reopened.replay()

    assert [r.rid for r in records] == [1, 2]
    assert reopened.append("t", b"after") == 3
    reopened.close()
    assert [r.rid for r in _replayed(tmp_path)] == [1, 2, 3]


def test_a_record_with_a_wrong_checksum_is_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    fill(journal, 2)
    journal.close()
    segment = segments(tmp_path)[-1]
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))

    assert [r.rid for r in _replayed(tmp_path)] == [1]


def test_rids_keep_growing_after_every_segment_is_released(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    fill(journal, 5)
    journal.release(5)
    journal.close()

    reopened = Journal(tmp_path)
    assert reopened.replay() == []
    assert reopened.append("t", b"next") == 6
    reopened.close()


def test_a_release_right_after_reopening_keeps_the_high_water_mark_and_the_next_record(
    tmp_path: Path,
) -> None:
    """The service's restart on a fully committed journal: its first commits release before any append.

    This once deleted the high-water segment while reusing its name for the active segment: the next record
    went into an unlinked file, and after a kill -9 rids started again at 1, below the lake's transaction
    version, so the lake writer took every new row for one it had already committed and dropped it.
    """
    journal = Journal(tmp_path)
    fill(journal, 5)
    journal.release(5)
    journal.close()

    reopened = Journal(tmp_path)
    reopened.release(5)
    assert [p.name for p in segments(tmp_path)] == [f"{6:020d}.wal"]
    assert reopened.append("t", b"six") == 6
    killed_without_close(reopened)

    after = Journal(tmp_path)
    assert [(r.rid, r.payload) for r in after.replay()] == [(6, b"six")]
    assert after.next_rid == 7
    after.close()


def killed_without_close(journal: Journal) -> None:
    """What a kill -9 leaves: the file descriptors closed by the kernel, nothing synced or cleaned up."""
    for fd in (journal._fd, journal._lock_fd):
        if fd is not None:
            os.close(fd)


def test_release_deletes_only_fully_committed_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", len(MAGIC) + 1)  # one record per segment
    journal = Journal(tmp_path)
    fill(journal, 4)
    assert len(segments(tmp_path)) == 4

    journal.release(2)
    journal.close()

    reopened = Journal(tmp_path)
    assert [r.rid for r in reopened.replay()] == [3, 4]
    reopened.release(4)
    assert reopened.size_bytes == len(MAGIC)  # only the empty high-water segment is left
    reopened.close()
    last = Journal(tmp_path)
    assert last.next_rid == 5
    last.close()


def test_a_partly_committed_active_segment_is_closed_and_goes_once_all_of_it_is_committed(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    fill(journal, 3)
    journal.release(2)  # rids 1-2 committed, 3 not yet
    journal.append("t", b"four")

    assert len(segments(tmp_path)) == 2
    journal.release(3)
    journal.close()
    assert [r.rid for r in _replayed(tmp_path)] == [4]


def test_a_second_journal_on_the_same_directory_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    with pytest.raises(JournalLockedError, match=r"in use by another lake writer \(pid \d+\)"):
        Journal(tmp_path)
    first.close()
    Journal(tmp_path).close()


def test_segments_without_identity_are_an_error_naming_the_fix(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    fill(journal, 1)
    journal.close()
    (tmp_path / "IDENTITY").unlink()

    with pytest.raises(FileNotFoundError, match="no IDENTITY file: restore it"):
        Journal(tmp_path)
    Journal(tmp_path / "fresh").close()  # and the lock was released


def test_a_write_that_fails_half_way_loses_nothing_written_before_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    fill(journal, 2)
    size = segments(tmp_path)[-1].stat().st_size

    # the next frame is cut after 10 bytes: a real short write, then EFBIG
    with file_size_limit(size + 10), pytest.raises(OSError):
        journal.append("t", b"x" * 100)
    rid = journal.append("t", b"after the failure")  # in a new segment
    journal.close()

    assert rid == 3
    assert len(segments(tmp_path)) == 2
    assert [(r.rid, r.payload) for r in _replayed(tmp_path)][-2:] == [
        (2, b"payload 1"),
        (3, b"after the failure"),
    ]


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """Make writes past `size` bytes of any file fail for real (RLIMIT_FSIZE; SIGXFSZ ignored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def _replayed(directory: Path) -> list:
    journal = Journal(directory)
    records = journal.replay()
    journal.close()
    return records


def _encoded_last(directory: Path) -> bytes:
    record = _replayed(directory)[-1]
    return msgspec.msgpack.encode(record)
