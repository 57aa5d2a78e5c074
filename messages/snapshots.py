"""Messages of the snapshot channel: a poll cycle borrows a few market-data lines for one-off snapshots.

The poller asks the allocator (ask, with a timeout) `BorrowLines`: it answers `LinesLent` at once, with
as many short leases as are free now (none while a stream waits for a line: streams come first); it never
queues the request. The poller tells the connection `TakeSnapshots` with those leases, one contract per
line; the connection requests the snapshots (paced like every request), gives each line back to the
allocator when its snapshot is over (ended, refused or timed out and cancelled), and tells the poller
`SnapshotsTaken`.
"""

from typing import Any

import msgspec
import pykka

from possync.messages.domain import Contract, DataType
from possync.messages.slots import SlotLease


class BorrowLines(msgspec.Struct, frozen=True):
    """Poller → allocator (ask): up to `lines` short leases for `holder` (that incarnation), now or none."""

    holder: str
    incarnation: int
    lines: int
    reply_to: pykka.ActorRef[Any]


class LinesLent(msgspec.Struct, frozen=True):
    """Allocator → poller: the short leases lent (maybe none: `reason` says why)."""

    leases: tuple[SlotLease, ...]
    reason: str = ""


class SnapshotOrder(msgspec.Struct, frozen=True):
    """One snapshot: `contract`, on the line of `lease`."""

    lease: SlotLease
    contract: Contract


class TakeSnapshots(msgspec.Struct, frozen=True):
    """Poller → connection: take these snapshots, each within `timeout_s`; answer `reply_to`."""

    orders: tuple[SnapshotOrder, ...]
    timeout_s: float
    reply_to: pykka.ActorRef[Any]


class Snapshot(msgspec.Struct, frozen=True):
    """One snapshot's outcome: its market price (None if none came), or the gateway's error code and text.

    `code` is 0 when the gateway refused nothing; a snapshot that timed out has `error` set and code 0.
    """

    conid: int
    market_price: float | None
    code: int = 0
    error: str = ""
    data_type: DataType | None = None
    """What kind of price it is (the gateway's `marketDataType` for the request); None without a price."""


class SnapshotsTaken(msgspec.Struct, frozen=True):
    """Connection → poller: the outcome of every order of a `TakeSnapshots`, in order."""

    snapshots: tuple[Snapshot, ...]


class SnapshotTimeout(msgspec.Struct, frozen=True):
    """Timer → poller: the snapshots of cycle `cycle` took too long: finish it without them."""

    cycle: int


class SnapshotsOver(msgspec.Struct, frozen=True):
    """Session → connection: every snapshot of `request` is over (its lines are free at the gateway)."""

    request: TakeSnapshots
    snapshots: tuple[Snapshot, ...]
