"""The lake's maintenance lease: which one writer of a fleet compacts, checkpoints and vacuums, for how long.

A fleet (one service per gateway/login, any hosts) appends to one lake; maintenance (see `_sink`) should run
from one of them at a time. The lease is a small Delta table in the lake itself, `_possync_maintenance`, so it
works wherever the lake does (a directory, S3, MinIO, ...) with no lock service:
- each claim appends one row (epoch, holder, expires_ts) with the Delta app transaction
  (`possync-maintenance-lease`, epoch), the epoch one past the table's transaction version for that app id;
- two writers claiming the same epoch at once conflict in delta-rs's commit check ("concurrent transaction"):
  exactly one commit lands, the other raises and the loser does not hold the lease;
- a claim is made only when the row of the current epoch is expired or is the claimant's own (a renewal).
So the current holder is the row of the latest epoch; a dead holder's lease is free once `expires_ts` has
passed (`lake.maintenance_lease_s`, by the wall clocks of the hosts: keep them in NTP sync).

The lease keeps maintenance from every host at once; it is not what keeps the data safe (delta-rs's
conflict checks are): a holder slower than its lease at worst overlaps one compaction with the next holder.
"""

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from loguru import logger

from possync.actors.lake._location import LakeLocation
from possync.actors.lake._query import query
from possync.actors.lake._tables import UTC_MICROS
from possync.messages.domain import utc_now

LEASE_TABLE = "_possync_maintenance"
LEASE_APP = "possync-maintenance-lease"
RENEW_FRACTION = 0.5
"""A held lease is renewed (one claim) once this fraction of it has passed."""
TIDY_EVERY = 100
"""Every this many claims the lease table itself is compacted and checkpointed."""
SCHEMA = pa.schema(
    [
        pa.field("epoch", pa.int64()),
        pa.field("holder", pa.string()),
        pa.field("host", pa.string()),
        pa.field("claimed_ts", UTC_MICROS),
        pa.field("expires_ts", UTC_MICROS),
    ]
)


@dataclass(frozen=True)
class LeaseState:
    """The lease as the lake holds it: epoch, holder (a writer id), and until when."""

    epoch: int
    holder: str
    expires_ts: datetime

    def free_for(self, holder: str, now: datetime) -> bool:
        """Whether `holder` may claim it now: it is theirs, or it has expired."""
        return self.holder == holder or self.expires_ts <= now


class MaintenanceLease:
    """One writer's view of the lake's maintenance lease (see the module docstring)."""

    def __init__(self, location: LakeLocation, holder: str, lease_s: float) -> None:
        self.location = location
        self.holder = holder
        self.lease_s = lease_s
        self._held_until: datetime | None = None
        self._claimed_at: datetime | None = None

    def held(self) -> bool:
        """Whether this writer holds the lease now, renewing or claiming it if due (a lake round trip)."""
        claimed = self._claimed_at
        if claimed is not None and utc_now() < claimed + timedelta(seconds=self.lease_s * RENEW_FRACTION):
            return True
        return self.claim()

    def claim(self) -> bool:
        """Claim or renew the lease for `lease_s` from now; True if this writer holds it afterwards."""
        self._held_until = self._claimed_at = None
        try:
            dt = self._table()
            state = current(dt)
            now = utc_now()
            if state is not None and not state.free_for(self.holder, now):
                return False
            epoch = (state.epoch if state else 0) + 1
            self._append(dt, epoch, now, now + timedelta(seconds=self.lease_s))
        except Exception as error:  # lost the race for this epoch, or the lake is unreachable
            logger.debug("maintenance lease not claimed: {}", self.location.redact(repr(error)))
            return False
        self._claimed_at, self._held_until = now, now + timedelta(seconds=self.lease_s)
        if epoch % TIDY_EVERY == 0:
            _tidy(dt)
        return True

    def release(self) -> None:
        """Give the lease up now (if held), so another writer or `run.py maintain` need not wait."""
        if self._held_until is None:
            return
        self._held_until = self._claimed_at = None
        try:
            dt = self._table()
            state = current(dt)
            if state is not None and state.holder == self.holder:
                now = utc_now()
                self._append(dt, state.epoch + 1, now, now)
        except Exception as error:
            logger.debug("maintenance lease not released: {}", self.location.redact(repr(error)))

    def _table(self) -> DeltaTable:
        existing = self.location.open(LEASE_TABLE)
        if existing is not None:
            return existing
        try:
            return DeltaTable.create(
                self.location.table_uri(LEASE_TABLE), SCHEMA, storage_options=self.location.options
            )
        except Exception:
            if (existing := self.location.open(LEASE_TABLE)) is None:
                raise
            return existing

    def _append(self, dt: DeltaTable, epoch: int, now: datetime, until: datetime) -> None:
        row = [[epoch], [self.holder], [socket.gethostname()], [now], [until]]
        write_deltalake(
            dt,
            pa.Table.from_arrays(
                [pa.array(v, f.type) for v, f in zip(row, SCHEMA, strict=True)], schema=SCHEMA
            ),
            mode="append",
            commit_properties=CommitProperties(
                app_transactions=[Transaction(LEASE_APP, epoch)], max_commit_retries=0
            ),
        )


def current(dt: DeltaTable) -> LeaseState | None:
    """The lease's current state in the (loaded) lease table; None if nobody ever claimed it."""
    epoch = dt.transaction_version(LEASE_APP)
    if not epoch:
        return None
    rows = query(dt, f"SELECT holder, expires_ts FROM t WHERE epoch = {int(epoch)}").to_pylist()
    return LeaseState(int(epoch), rows[0]["holder"], rows[0]["expires_ts"]) if rows else None


def lease_state(location: LakeLocation) -> LeaseState | None:
    """The lake's maintenance lease now (None if never claimed): for `run.py maintain` and tests."""
    dt = location.open(LEASE_TABLE)
    return current(dt) if dt is not None else None


def _tidy(dt: DeltaTable) -> None:
    """Keep the lease table small: one file, a checkpoint, expired log entries removed."""
    try:
        dt.optimize.compact()
        dt.create_checkpoint()
        dt.cleanup_metadata()
    except Exception as error:
        logger.debug("maintenance lease table not tidied: {!r}", error)
