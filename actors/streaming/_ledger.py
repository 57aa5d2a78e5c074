"""The market-data line budget as a pure ledger: who holds a line, who waits for one, who must give one back.

Each holder (a stream, by its stable name) has at most one entry: holding a lease, or waiting for one.
The invariant, under any sequence of calls: the leases held (including those being given back) never
outnumber the effective budget, and the effective budget never exceeds the configured one. A refusal
by the gateway (error 101) shrinks the effective budget to the leases really held; `regrow()` moves it
back towards the configured budget one line at a time.

Free lines go to waiters, most important first (priority 1 first, then arrival); with `preempt` off,
strictly in arrival order and nobody is ever demoted. With `preempt` on, a waiter more important than a
holder makes that holder give its line back (a `Demote` action): the line stays counted until the holder
releases it, so the gateway never sees more lines than the budget. Calls return the actions the owner
must carry out (`Promote`, `Demote`, `Reclaim`); the ledger itself never talks to anyone.

`lend` hands out short leases (snapshots) only from lines free now and while nobody waits: it never
queues, and a short lease is never demoted (it ends by itself within seconds); a refused one (101) is
forgotten, not requeued.
"""

import itertools
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Holder:
    """One incarnation of a holder: its stable name, incarnation, contract, priority and where to reply."""

    name: str
    incarnation: int
    conid: int
    priority: int
    reply_to: Any = None
    short: bool = False
    """A short lease (`lend`): never waits, never demoted."""


@dataclass(frozen=True)
class Promote:
    """Give `holder` the line `lease_id` (it was waiting)."""

    holder: Holder
    lease_id: int


@dataclass(frozen=True)
class Demote:
    """Ask `holder` to give back the line `lease_id` (a more important holder waits for one)."""

    holder: Holder
    lease_id: int


@dataclass(frozen=True)
class Reclaim:
    """`holder` is gone but held `lease_id`: the line is free again; cancel its subscription."""

    holder: Holder
    lease_id: int


Action = Promote | Demote | Reclaim


@dataclass
class _Entry:
    holder: Holder
    seq: int
    lease_id: int | None = None
    revoking: bool = False


class SlotLedger:
    """Leases and waiters of one connection epoch (see the module docstring)."""

    def __init__(self, budget: int, preempt: bool = True) -> None:
        if budget < 1:
            raise ValueError(f"budget={budget!r}: must be at least 1")
        self.budget = budget
        self.effective_budget = budget
        self.preempt = preempt
        self._entries: dict[str, _Entry] = {}
        self._by_lease: dict[int, _Entry] = {}
        self._lease_ids = itertools.count(1)
        self._seq = itertools.count()

    @property
    def held(self) -> int:
        """Leases held now, including those being given back."""
        return len(self._by_lease)

    @property
    def waiting(self) -> int:
        """Holders waiting for a line."""
        return len(self._entries) - len(self._by_lease)

    def leases(self) -> dict[int, Holder]:
        """Every lease held now, by lease id."""
        return {lease_id: entry.holder for lease_id, entry in self._by_lease.items()}

    def entries(self) -> list[Holder]:
        """Every holder known: holding or waiting."""
        return [entry.holder for entry in self._entries.values()]

    def request(self, holder: Holder) -> tuple[int | None, list[Action]]:
        """`holder` wants a line: its lease id (None: it waits for a `Promote`) and the actions this causes.

        A repeated request of the same incarnation returns its current lease; a newer incarnation of a
        known name replaces the older one's entry (a `Reclaim` if that one still held a lease); a request
        from an incarnation older than the one known is stale and ignored.
        """
        actions: list[Action] = []
        known = self._entries.get(holder.name)
        if known is not None and known.holder.incarnation > holder.incarnation:
            return None, []
        if known is not None and known.holder.incarnation == holder.incarnation:
            return known.lease_id, []
        if known is not None:
            actions += self._forget(known)
        entry = _Entry(holder, next(self._seq))
        self._entries[holder.name] = entry
        if self.held < self.effective_budget:  # free lines imply nobody waits (see _rebalance)
            self._grant(entry)
        actions += self._rebalance()
        return entry.lease_id, actions

    def lend(self, holder: Holder, lines: int) -> list[int]:
        """Up to `lines` short leases for `holder` from the lines free now; none while anybody waits.

        Each lease is an entry of its own, named `<holder name>#<sequence number>`, for no contract (conid 0).
        """
        if self.waiting:
            return []
        lent = []
        for _ in range(min(lines, self.effective_budget - self.held)):
            seq = next(self._seq)
            short = replace(holder, name=f"{holder.name}#{seq}", conid=0, short=True)
            entry = self._entries[short.name] = _Entry(short, seq)
            lent.append(self._grant(entry))
        return lent

    def release(self, lease_id: int) -> list[Action]:
        """The holder gave `lease_id` back: it leaves, or waits again if it had been demoted. Idempotent."""
        entry = self._by_lease.get(lease_id)
        if entry is None:
            return []
        if entry.revoking:
            self._requeue(entry)
        else:
            self._remove(entry)
        return self._rebalance()

    def refuse(self, lease_id: int) -> list[Action]:
        """The gateway refused `lease_id` (101): the budget shrinks to what is held; its holder waits."""
        entry = self._by_lease.get(lease_id)
        if entry is None:
            return []
        if entry.holder.short:
            self._remove(entry)
        else:
            self._requeue(entry)
        self.effective_budget = self.held
        return self._rebalance()

    def regrow(self) -> list[Action]:
        """Move the effective budget one line back towards the configured budget."""
        self.effective_budget = min(self.budget, self.effective_budget + 1)
        return self._rebalance()

    def remove(self, name: str, incarnation: int) -> list[Action]:
        """Forget that incarnation of `name` (gone): a `Reclaim` if it held a lease, and what follows."""
        entry = self._entries.get(name)
        if entry is None or entry.holder.incarnation != incarnation:
            return []
        return self._forget(entry) + self._rebalance()

    def _forget(self, entry: _Entry) -> list[Action]:
        """Drop `entry`; a `Reclaim` if it held a lease."""
        self._remove(entry)
        return [] if entry.lease_id is None else [Reclaim(entry.holder, entry.lease_id)]

    def _remove(self, entry: _Entry) -> None:
        del self._entries[entry.holder.name]
        if entry.lease_id is not None:
            del self._by_lease[entry.lease_id]

    def _grant(self, entry: _Entry) -> int:
        lease_id = entry.lease_id = next(self._lease_ids)
        self._by_lease[lease_id] = entry
        return lease_id

    def _requeue(self, entry: _Entry) -> None:
        del self._by_lease[self._lease_id(entry)]
        entry.lease_id, entry.revoking, entry.seq = None, False, next(self._seq)

    @staticmethod
    def _lease_id(holding: _Entry) -> int:
        if holding.lease_id is None:
            raise RuntimeError(f"{holding.holder.name} holds no lease")
        return holding.lease_id

    def _rank(self, entry: _Entry) -> tuple[int, int]:
        """Waiters sort by this key, first served first."""
        return (entry.holder.priority, entry.seq) if self.preempt else (0, entry.seq)

    def _rebalance(self) -> list[Action]:
        """Hand free lines to the best waiters; with preempt, demote holders less important than a waiter."""
        actions: list[Action] = []
        waiters = sorted((e for e in self._entries.values() if e.lease_id is None), key=self._rank)
        while waiters and self.held < self.effective_budget:
            entry = waiters.pop(0)
            actions.append(Promote(entry.holder, self._grant(entry)))
        if not self.preempt:
            return actions
        revoking = sum(e.revoking for e in self._by_lease.values())
        victims = sorted(
            (e for e in self._by_lease.values() if not e.revoking and not e.holder.short),
            key=lambda e: (-e.holder.priority, -e.seq),
        )
        for waiter, victim in zip(waiters[revoking:], victims, strict=False):
            if waiter.holder.priority >= victim.holder.priority:
                break
            victim.revoking = True
            actions.append(Demote(victim.holder, self._lease_id(victim)))
        return actions
