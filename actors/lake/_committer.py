"""The lake writer's committer: one daemon thread that runs every Delta commit and all table maintenance.

The writer actor only journals and decides; it hands each batch here and hears back by message
(`BatchCommitted` / `CommitFailed`). So a slow, failing or hung lake never blocks the writer's inbox: senders'
acks and status asks are answered while a commit or a compaction runs. Batches run one at a time, in order;
maintenance runs between them when due (and only while this writer holds the lake's maintenance lease, or
never with `lake.maintenance = "off"`), and at least every `IDLE_CHECK_S` when no batch comes. Each outcome
carries how long the commit took (the writer adapts its batching to it); error texts are redacted.

Stopping waits a bounded time: for the batches already queued on a clean stop, for the running one only after
a crash. What is skipped stays in the journal and is committed by the next incarnation. A thread that
outlives the wait (a hung file system) cannot write twice: every commit re-checks the table's transaction
version under a process-wide lock.
"""

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from loguru import logger

from possync.actors.lake._backlog import Chunk
from possync.actors.lake._lease import MaintenanceLease
from possync.actors.lake._location import LakeLocation
from possync.actors.lake._sink import DeltaSink
from possync.actors.lake._tables import LakeTable
from possync.messages.lake import BatchCommitted, CommitFailed

IDLE_CHECK_S = 60.0
_STOP = object()


class _Batch(NamedTuple):
    table: LakeTable
    chunks: list[Chunk]


class LakeCommitter:
    """Commits batches to the tables of a lake in its own thread and reports each outcome via `report`."""

    def __init__(
        self,
        location: LakeLocation | Path | str,
        app_id: str,
        report: Callable[[Any], None],
        max_commit_retries: int = 30,
        lease: MaintenanceLease | None = None,
        compact_every: int | None = None,
    ) -> None:
        """Start the thread; `report` gets each BatchCommitted or CommitFailed, in that thread (so: tell).

        `lease`: maintain only while holding it; None: never maintain (`lake.maintenance = "off"`).
        """
        location = self._location = LakeLocation.of(location)
        self._app_id = app_id
        self._report = report
        self._retries = max_commit_retries
        self._lease = lease
        self._compact_every = compact_every
        self._batches: queue.SimpleQueue[_Batch | object] = queue.SimpleQueue()
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lake-committer:{location}", daemon=True)
        self._thread.start()

    def submit(self, table: LakeTable, chunks: list[Chunk]) -> None:
        """Queue a batch; an empty one just opens (or creates) the table and reports what it holds."""
        self._batches.put(_Batch(table, chunks))

    def stop(self, timeout_s: float, finish_queued: bool) -> bool:
        """End the thread; True if it has ended within `timeout_s`.

        `finish_queued`: commit the batches already queued first (a clean stop); else skip them (a crash).
        Either way, what is still running or queued when `timeout_s` is up is abandoned.
        """
        self._closing.set()
        if not finish_queued:
            self._abandon.set()
        self._batches.put(_STOP)
        self._thread.join(timeout_s)
        if self._lease is not None and not self._thread.is_alive():
            self._lease.release()
        self._abandon.set()
        if self._thread.is_alive():
            logger.warning("lake committer still busy after {}s; left to end on its own", timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        sinks: dict[str, DeltaSink] = {}
        while True:
            try:
                batch = self._batches.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                batch = None
            if batch is _STOP:
                return
            if isinstance(batch, _Batch) and not self._abandon.is_set():
                name = batch.table.name
                if name not in sinks:
                    sinks[name] = DeltaSink(
                        self._location, batch.table, self._app_id, self._retries, self._compact_every
                    )
                self._commit(sinks[name], batch.chunks)
            for sink in sinks.values():
                if self._closing.is_set():
                    break
                sink.maintain_if_due(self._may_maintain)

    def _may_maintain(self) -> bool:
        return self._lease is not None and self._lease.held()

    def _commit(self, sink: DeltaSink, chunks: list[Chunk]) -> None:
        name = sink.table.name
        started = time.perf_counter()
        try:
            version, rows = sink.commit(chunks)
        except Exception as error:
            text = self._location.redact(f"{name}: {type(error).__name__}: {error}")
            self._report(CommitFailed(name, text))
            return
        self._report(BatchCommitted(name, version, rows, time.perf_counter() - started))
