"""One Delta table as the lake writer sees it: create or open it, commit batches exactly once, maintain it.

Exactly once: a batch is committed with `CommitProperties(app_transactions=[Transaction(app_id, version)])`,
`version` being its highest journal rid. Right before committing, under a process-wide lock per table, the
sink refreshes its handle and drops every chunk with a rid <= `transaction_version(app_id)`; after any error
it reopens the table and counts the batch as committed if the version got there anyway. delta-rs itself
enforces nothing, so this check is what makes a retry (after an error, a crash, a kill -9, or a stale
incarnation whose commit outlived it) harmless.

Appends only, with `schema_mode="merge"`: a column added to a `LakeTable` schema evolves existing tables.

Every commit names its writer in the commit info (`possync.writer`: the app id, unique per journal and stable
across restarts) and retries a race lost to another writer up to `lake.max_commit_retries` times.

Durability: delta-rs does not fsync. On a local lake, after each append the sink fsyncs the commit's log
entry, its data files and their directories, so a commit the writer reports (and whose journal segment it may
then delete) survives a power loss. Compaction and checkpoint files are fsynced the same way. An object store
is durable once the put returns: nothing to fsync, and no staging debris to clean (its puts are atomic).

Maintenance (in the committer thread, between commits, never during intake), only while `may_maintain()` says
so (the writer holds the lake's maintenance lease, `_lease`), otherwise skipped: every `COMPACT_EVERY_COMMITS`
commits or `COMPACT_EVERY_S` seconds after a commit, `optimize.compact(target_size=16 MiB)` merges small
files, a checkpoint is written and expired log entries are cleaned up, and the handle is reopened (a long-
lived handle gets slower with every commit). Every `VACUUM_EVERY_S` a full vacuum removes files unreferenced
for longer than the table's `delta.deletedFileRetentionDuration` (1 hour on tables created here; the log
keeps an hour too, `TABLE_CONFIGURATION`, so the files of a table stay bounded), which
includes complete-but-uncommitted files left by a kill -9. Half-written `…#<n>` staging files (which no vacuum
removes) older than `DEBRIS_AGE_S` are deleted on open and on each maintenance.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, PostCommitHookProperties, Transaction, write_deltalake
from loguru import logger

from possync.actors.lake._backlog import Chunk
from possync.actors.lake._journal import fsync_path
from possync.actors.lake._location import LakeLocation
from possync.actors.lake._tables import LakeTable

COMPACT_EVERY_COMMITS = 50
COMPACT_EVERY_S = 300.0
VACUUM_EVERY_S = 600.0
TARGET_FILE_BYTES = 16 << 20
DEBRIS_AGE_S = 60.0
TABLE_CONFIGURATION = {
    "delta.deletedFileRetentionDuration": "interval 1 hours",
    "delta.logRetentionDuration": "interval 1 hours",
}
"""A version older than the deleted-file retention has lost its data files to vacuum anyway, so the log
keeps no longer: files on disk stay bounded (about an hour of commits) on a service that runs for weeks."""
OLD_CONFIGURATION = {"delta.logRetentionDuration": "interval 1 days"}
"""What tables created before kept; maintenance moves exactly these values (never a user's) to today's."""
NO_HOOKS = PostCommitHookProperties(create_checkpoint=False, cleanup_expired_logs=False)
"""Checkpoints and log cleanup happen in maintenance, not inside a commit."""

_DEBRIS = re.compile(r"#\d+$")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
WRITER_KEY = "possync.writer"
"""The commit-info key naming the writer (its app id) of every commit possync makes."""


def _commit_lock(path: str) -> threading.Lock:
    """The process-wide lock serialising every commit of this sink's table (across writer incarnations)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


class DeltaSink:
    """Commits batches of one `LakeTable` of a lake, exactly once per `app_id`, and keeps it maintained."""

    def __init__(
        self,
        location: LakeLocation | Path | str,
        table: LakeTable,
        app_id: str,
        max_commit_retries: int = 30,
        compact_every: int | None = None,
    ) -> None:
        """`location`: the lake (a local root may be given as a path); `compact_every`: commits between two
        maintenance runs (None: `COMPACT_EVERY_COMMITS`)."""
        self._compact_every = compact_every
        location = self.location = LakeLocation.of(location)
        self.table = table
        self.app_id = app_id
        self.uri = location.table_uri(table.name)
        self.path = Path(self.uri) if location.is_local else None
        self._retries = max_commit_retries
        self._lock = _commit_lock(self.uri)
        self._dt: DeltaTable | None = None
        self._commits_since_maintenance = 0
        self._last_maintenance = time.monotonic()
        self._last_vacuum = time.monotonic()

    def commit(self, chunks: list[Chunk]) -> tuple[int, int]:
        """Commit the chunks not yet in the table; return (rid it holds every row up to, rows written).

        With no chunks (or only committed ones) it only opens the table, creating it if needed. Raises on
        failure: then nothing of this batch is in the table.
        """
        with self._lock:
            dt = self._open()
            done = dt.transaction_version(self.app_id) or 0
            fresh = [chunk for chunk in chunks if chunk.rid > done]
            if not fresh:
                return done, 0
            version = fresh[-1].rid
            # one record batch: delta-rs writes a batch of thousands of chunks 100x slower (1-row messages)
            data = pa.concat_tables([chunk.data for chunk in fresh]).combine_chunks()
            try:
                write_deltalake(
                    dt,
                    data,
                    mode="append",
                    schema_mode="merge",
                    commit_properties=self._properties([Transaction(self.app_id, version)]),
                    post_commithook_properties=NO_HOOKS,
                )
                if self.path is not None:
                    _fsync_version(self.path, dt.version())
            except Exception:
                self._dt = None
                if self._committed_version() < version:
                    raise
                logger.warning(
                    "{}: commit of rid {} raised, but it is in the table", self.table.name, version
                )
            self._commits_since_maintenance += 1
            return version, data.num_rows

    def _properties(self, transactions: list[Transaction] | None = None) -> CommitProperties:
        """Commit properties naming this writer, with its retries and app transactions."""
        return CommitProperties(
            custom_metadata={WRITER_KEY: self.app_id},
            max_commit_retries=self._retries,
            app_transactions=transactions,
        )

    def maintain_if_due(self, may_maintain: Callable[[], bool] = lambda: True) -> None:
        """Compact, checkpoint, clean up (and vacuum) if due and `may_maintain()`; failures are logged and
        retried next time. When due but not allowed (another writer maintains), the turn is skipped."""
        now = time.monotonic()
        every = self._compact_every or COMPACT_EVERY_COMMITS
        due = self._commits_since_maintenance >= every or (
            self._commits_since_maintenance > 0 and now - self._last_maintenance >= COMPACT_EVERY_S
        )
        if not due:
            return
        if not may_maintain():
            self._commits_since_maintenance = 0
            self._last_maintenance = now
            return
        self.maintain(vacuum=now - self._last_vacuum >= VACUUM_EVERY_S)

    def maintain(self, vacuum: bool) -> str:
        """Compact, checkpoint, clean up now (and vacuum); "" if done, else the error (logged, redacted)."""
        now = time.monotonic()
        problem = ""
        with self._lock:
            started = time.perf_counter()
            try:
                self._maintain(vacuum)
            except Exception as error:
                problem = self.location.redact(f"{type(error).__name__}: {error}")
                logger.warning("{}: maintenance failed (retried later): {}", self.table.name, problem)
            finally:
                self._dt = None
                self._commits_since_maintenance = 0
                self._last_maintenance = now
            logger.debug("{}: maintenance took {:.3f}s", self.table.name, time.perf_counter() - started)
        return problem

    def _maintain(self, vacuum: bool) -> None:
        dt = self._open()
        before = dt.version()
        properties = self._properties()
        _upgrade_configuration(dt, properties)
        dt.optimize.compact(
            target_size=TARGET_FILE_BYTES, commit_properties=properties, post_commithook_properties=NO_HOOKS
        )
        if self.path is not None:
            for version in range(before + 1, dt.version() + 1):
                _fsync_version(self.path, version)
        dt.create_checkpoint()
        if self.path is not None:
            _fsync_checkpoint(self.path, dt.version())
        dt.cleanup_metadata()
        if vacuum:
            dt.vacuum(
                dry_run=False, full=True, commit_properties=properties, post_commithook_properties=NO_HOOKS
            )
            self._last_vacuum = time.monotonic()
        if self.path is not None:
            _remove_debris(self.path)

    def _open(self) -> DeltaTable:
        """The table handle, refreshed to the latest version; opened (or created) if there is none."""
        if self._dt is not None:
            try:
                self._dt.update_incremental()
            except Exception:
                self._dt = None  # reopen next time: the table may have been replaced
                raise
            return self._dt
        location = self.location
        if location.is_local and not location.path.is_dir():
            raise FileNotFoundError(f"lake root {location} is missing (deleted, or its disk not mounted?)")
        dt = location.open(self.table.name) or self._create()
        if self.path is not None:
            _remove_debris(self.path)
        self._dt = dt
        return dt

    def _create(self) -> DeltaTable:
        """Create the table; if another writer created it first, open theirs."""
        try:
            dt = DeltaTable.create(
                self.uri,
                self.table.schema,
                configuration=TABLE_CONFIGURATION,
                storage_options=self.location.options,
                commit_properties=self._properties(),
            )
        except Exception:
            if (existing := self.location.open(self.table.name)) is None:
                raise
            return existing
        logger.info("created lake table {}", self.location.redact(self.uri))
        return dt

    def _committed_version(self) -> int:
        """The table's transaction version for `app_id`, read afresh; -1 if the table cannot be read."""
        try:
            return self._open().transaction_version(self.app_id) or 0
        except Exception as error:
            logger.debug("{}: cannot read the transaction version: {!r}", self.table.name, error)
            self._dt = None
            return -1


def _upgrade_configuration(dt: DeltaTable, properties: CommitProperties) -> None:
    """Move the retention a table created by an older possync kept to today's (a metadata commit)."""
    configuration = dt.metadata().configuration
    stale = {k: TABLE_CONFIGURATION[k] for k, v in OLD_CONFIGURATION.items() if configuration.get(k) == v}
    if stale:
        dt.alter.set_table_properties(
            stale, commit_properties=properties, post_commithook_properties=NO_HOOKS
        )


def _fsync_version(table_path: Path, version: int) -> None:
    """fsync one commit: its log entry, the data files it adds, and their directories."""
    log = table_path / "_delta_log" / f"{version:020d}.json"
    directories = {log.parent}
    for line in log.read_text().splitlines():
        added = json.loads(line).get("add")
        if added:
            data_file = table_path / unquote(added["path"])
            fsync_path(data_file)
            directories.add(data_file.parent)
    fsync_path(log)
    for directory in directories:
        fsync_path(directory)


def _fsync_checkpoint(table_path: Path, version: int) -> None:
    log = table_path / "_delta_log"
    for name in (f"{version:020d}.checkpoint.parquet", "_last_checkpoint"):
        if (log / name).exists():
            fsync_path(log / name)
    fsync_path(log)


def _remove_debris(table_path: Path) -> None:
    """Delete half-written `…#<n>` staging files older than `DEBRIS_AGE_S` (a killed writer leaves them)."""
    cutoff = time.time() - DEBRIS_AGE_S
    for path in table_path.rglob("*#*"):
        if _DEBRIS.search(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            logger.info("removed half-written file {}", path)
