"""The lake writer's write-ahead journal: what it accepted survives its crash and a kill -9 of the process.

Layout: a directory (by default `<lake.root>/_journal`) holding
- `LOCK`: flock-ed while a journal is open, so two writers (two processes, or a stale incarnation in this one)
  can never share it; a kill -9 releases it.
- `IDENTITY`: a random id created with the journal. The writer's Delta transaction app id is derived from it,
  so a fresh journal (first start, or a deleted one) can never mistake another journal's commits for its own.
- segments `<high-water rid, 20 digits>.wal`: an 8-byte magic, then frames `u32 length | u32 crc32 | payload`,
  the payload a msgpack `JournalRecord(rid, table, payload)`.

Record ids (rids) are assigned here, strictly increasing across restarts: the next rid is one past the
highest rid found in any segment and at least the highest segment name, and a segment is only deleted after a
newer one exists, so the high-water mark survives even when every record has been committed.

Durability, precisely: `append` returns after one `os.write` of the whole frame, so a record survives a crash
of the writer and a kill -9 of the process (the kernel holds it). It survives a power loss only after `sync`
(fsync of the segment and, for a new segment, of the directory); the writer syncs before any rid is handed to
the lake and on every flush tick, so a power loss can lose at most rows accepted since the last tick.

A torn frame (the process died mid-write, or a write failed half-way) is detected by its length or checksum
and ignored with everything after it in that segment. After a failed write the segment is closed and never
appended to again, so a torn frame is always the last of its segment and the records before it stay valid.
"""

import fcntl
import os
import struct
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import msgspec
from loguru import logger

MAGIC = b"PSYNCJ01"
FRAME = struct.Struct("<II")
MAX_PAYLOAD = 1 << 30
SEGMENT_BYTES = 64 << 20
"""A segment is closed once it holds this many bytes (the next record starts a new one)."""

SUFFIX = ".wal"


class JournalRecord(msgspec.Struct, frozen=True, array_like=True):
    """One accepted message's rows for one table: `payload` is the table's packed records."""

    rid: int
    table: str
    payload: bytes


class JournalLockedError(RuntimeError):
    """Another lake writer holds this journal."""


@dataclass(eq=False)
class _Segment:
    """A segment file; compared by identity (two objects for one path must never be taken for each other)."""

    path: Path
    size: int
    max_rid: int = 0

    @property
    def name_rid(self) -> int:
        """The rid in the segment's name: the next rid when it was opened, so that of its first record."""
        return int(self.path.stem)


class Journal:
    """An open, locked journal directory: append records, sync, and release segments once committed."""

    def __init__(self, directory: Path) -> None:
        """Open (creating it if needed) and lock `directory`, and read what its segments hold."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(directory / "LOCK")
        self._segments: list[_Segment] = []
        self._active: _Segment | None = None
        self._fd: int | None = None
        self._unsynced = False
        self._dir_unsynced = False
        self.next_rid = 1
        try:
            self.identity = self._identity()
            self._recovered = self._scan()
        except BaseException:
            self.close()
            raise

    def replay(self) -> list[JournalRecord]:
        """The intact records found when the journal was opened, by rid (returned by the first call only)."""
        records, self._recovered = self._recovered, []
        return records

    def append(self, table: str, payload: bytes) -> int:
        """Write one record with one os.write and return its rid.

        On OSError (disk full, directory gone, ...) the record is not in the journal, the rid is not used,
        and the segment is closed so that a half-written frame stays its last.
        """
        rid = self.next_rid
        data = msgspec.msgpack.encode(JournalRecord(rid, table, payload))
        frame = FRAME.pack(len(data), zlib.crc32(data)) + data
        try:
            segment = self._writable_segment(rid)
            _write_all(self._fd, frame)
        except OSError:
            self._close_active()
            raise
        segment.size += len(frame)
        segment.max_rid = rid
        self._unsynced = True
        self.next_rid = rid + 1
        return rid

    def sync(self) -> None:
        """Make every appended record survive a power loss (fsync of the segment, and of the directory)."""
        if self._unsynced and self._fd is not None:
            os.fsync(self._fd)
            self._unsynced = False
        if self._dir_unsynced:
            fsync_path(self.directory)
            self._dir_unsynced = False

    def release(self, committed_rid: int) -> None:
        """Delete the segments whose records all have a rid <= `committed_rid` (they are in the lake).

        An active segment holding a committed record is closed (the next record starts a new one), so the
        journal holds about the rows of the batches in flight, not a whole segment. When no segment would be
        left, an empty one named with the next rid is created first: it keeps the high-water mark. A segment
        that is that mark already (empty, named with the next rid) is never deleted.
        """
        if self._active is not None and self._active.max_rid and self._active.name_rid <= committed_rid:
            self._close_active()
        done = [s for s in self._segments if self._releasable(s, committed_rid)]
        if done and len(done) == len(self._segments):
            self._open_segment(self.next_rid)
        for segment in done:
            segment.path.unlink(missing_ok=True)
            self._segments.remove(segment)
            self._dir_unsynced = True

    def _releasable(self, segment: _Segment, committed_rid: int) -> bool:
        """Whether `segment` is committed and not the one in use or the high-water mark itself."""
        mark = segment.name_rid >= self.next_rid
        return segment is not self._active and not mark and segment.max_rid <= committed_rid

    @property
    def size_bytes(self) -> int:
        """Bytes on disk in all segments."""
        return sum(s.size for s in self._segments)

    def close(self) -> None:
        """Close the active segment and release the lock (idempotent)."""
        self._close_active()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _scan(self) -> list[JournalRecord]:
        """Every intact record of every segment, by rid; torn tails are logged and skipped."""
        records: list[JournalRecord] = []
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            found = _read_segment(path)
            segment = _Segment(path, path.stat().st_size, max((r.rid for r in found), default=0))
            self.next_rid = max(self.next_rid, segment.name_rid, segment.max_rid + 1)
            self._segments.append(segment)
            records.extend(found)
        records.sort(key=lambda r: r.rid)
        return records

    def _identity(self) -> str:
        path = self.directory / "IDENTITY"
        if path.exists():
            return path.read_text().strip()
        if any(self.directory.glob(f"*{SUFFIX}")):
            raise FileNotFoundError(
                f"journal {self.directory} has segments but no IDENTITY file: restore it from a backup, or "
                "move the segments away (their rows may then be missing from the lake)"
            )
        identity = uuid.uuid4().hex
        temp = path.with_suffix(".tmp")
        temp.write_text(identity)
        with temp.open("rb") as f:
            os.fsync(f.fileno())
        temp.replace(path)
        fsync_path(self.directory)
        return identity

    def _writable_segment(self, rid: int) -> _Segment:
        if self._active is None or self._active.size >= SEGMENT_BYTES:
            self._close_active()
            self._open_segment(rid)
        assert self._active is not None
        return self._active

    def _open_segment(self, name_rid: int) -> None:
        path = self.directory / f"{name_rid:020d}{SUFFIX}"
        # A segment of this name can only be one without intact records (a high-water mark, or a first write
        # that failed): had it a record, next_rid would exceed its name. Replace it.
        self._segments = [s for s in self._segments if s.path != path]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, MAGIC)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self._active = _Segment(path, len(MAGIC))
        self._segments.append(self._active)
        self._dir_unsynced = True

    def _close_active(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._unsynced:
                    os.fsync(fd)
            except OSError as error:
                logger.warning("journal segment {} could not be synced on close: {}", self._active, error)
            finally:
                os.close(fd)
        self._unsynced = False
        self._active = None


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise JournalLockedError(
            f"journal {path.parent} is in use by another lake writer (pid {holder}): stop it, or give this "
            "one another lake.root"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _write_all(fd: int | None, data: bytes) -> None:
    if fd is None:
        raise OSError("journal segment is not open")
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_path(path: Path) -> None:
    """fsync a file or a directory by its path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_segment(path: Path) -> list[JournalRecord]:
    """The intact records of one segment, up to the first torn or corrupt frame (logged)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        if data:
            logger.error("journal segment {} has no valid header: ignored ({} bytes)", path, len(data))
        return []
    records: list[JournalRecord] = []
    offset = len(MAGIC)
    while offset < len(data):
        record = _read_frame(data, offset)
        if record is None:
            logger.warning(
                "journal segment {}: torn or corrupt record at byte {} ignored ({} bytes)",
                path,
                offset,
                len(data) - offset,
            )
            break
        records.append(record[0])
        offset = record[1]
    return records


def _read_frame(data: bytes, offset: int) -> tuple[JournalRecord, int] | None:
    """The record at `offset` and the offset after it, or None if the frame is torn or corrupt."""
    end = offset + FRAME.size
    if end > len(data):
        return None
    length, crc = FRAME.unpack_from(data, offset)
    if length > MAX_PAYLOAD or end + length > len(data):
        return None
    payload = data[end : end + length]
    if zlib.crc32(payload) != crc:
        return None
    try:
        return msgspec.msgpack.decode(payload, type=JournalRecord), end + length
    except msgspec.DecodeError:
        return None
