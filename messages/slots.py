"""Messages of the line budget: streams ↔ SlotAllocatorActor, and the connection's refusals.

A stream tells `AcquireSlot`; the allocator answers `SlotGranted` (a line) or `SlotQueued` (none free:
a `SlotGranted` follows when one is, the promotion). A stream gives its line back with `ReleaseSlot`,
and must do so when told `DemoteSlot`. Every lease carries the allocator's epoch: after a session
restart, anything about a lease of an older epoch is a no-op.
"""

from typing import Any

import msgspec
import pykka


class SlotLease(msgspec.Struct, frozen=True):
    """One market-data line: its lease id within the allocator's `epoch`."""

    lease_id: int
    epoch: int


class AcquireSlot(msgspec.Struct, frozen=True):
    """Stream → allocator: `holder` (a stable tree name, that incarnation) wants a line for `conid`.

    Priority 1 is the most important; the answer goes to `reply_to` (that incarnation's ref).
    """

    holder: str
    incarnation: int
    conid: int
    priority: int
    reply_to: pykka.ActorRef[Any]


class SlotGranted(msgspec.Struct, frozen=True):
    """Allocator → stream: hold this line (the answer to AcquireSlot, or later a promotion).

    It replaces any other line the stream holds: the allocator grants anew only what it took back.
    """

    lease: SlotLease


class SlotQueued(msgspec.Struct, frozen=True):
    """Allocator → stream: no line now; a SlotGranted follows when one is free for you."""

    epoch: int


class ReleaseSlot(msgspec.Struct, frozen=True):
    """Stream → allocator: this line is free (its subscription cancelled first); idempotent.

    The holder leaves the ledger, unless it was demoted: then it waits for another line.
    """

    lease: SlotLease


class DemoteSlot(msgspec.Struct, frozen=True):
    """Allocator → stream: a more important contract needs a line: give this one back and queue."""

    lease: SlotLease


class SlotRefused(msgspec.Struct, frozen=True):
    """Connection → allocator: the gateway refused this line (101); told before the stream hears of it."""

    lease: SlotLease


class GetSlotStatus(msgspec.Struct, frozen=True):
    """Ask the allocator for a `SlotStatus` (always with a timeout)."""


class SlotHolding(msgspec.Struct, frozen=True):
    """One line held: by whom (name, incarnation), for which contract; `lent` for snapshots (conid 0)."""

    lease_id: int
    holder: str
    incarnation: int
    conid: int
    priority: int
    lent: bool = False


class SlotStatus(msgspec.Struct, frozen=True):
    """The allocator's ledger and counters, as /status and /metrics show them.

    `effective_budget` is below `budget` after refusals (101) until it has grown back; `leaks` counts
    lines reclaimed from holders that had gone without giving them back.
    """

    epoch: int
    budget: int
    effective_budget: int
    holdings: tuple[SlotHolding, ...]
    waiting: int
    refusals: int
    demotions: int
    leaks: int


class RegrowBudget(msgspec.Struct, frozen=True):
    """Timer → allocator: grow the effective budget one line back towards the configured one."""


class ReconcileSlots(msgspec.Struct, frozen=True):
    """Timer → allocator: check every holder is still alive; reclaim the lines of those that are not."""
