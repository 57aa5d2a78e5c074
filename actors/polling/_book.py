"""The poll queue as a pure in-memory structure: contracts to refresh, their priority, due time and failures.

Two lazy heaps give O(log n) per operation: `waiting` orders items by due time; items whose time has come
move to `ready`, ordered by (expedited first, priority, due). A rescheduled item gets a new stamp, so its
old heap entries are skipped when they surface. An item handed out is on loan: it is due again after
`lease_s` unless its outcome arrives first, so a lost batch delays items but never loses them.
Times are monotonic seconds supplied by the caller; nothing here reads a clock or does I/O.
"""

import heapq
import itertools
from dataclasses import dataclass, field

import msgspec

from possync.config.settings import QueueSettings
from possync.messages.domain import Contract
from possync.messages.queue import ItemOutcome, Outcome, ParkedItem, PollItem, QueueStatus
from possync.messages.routing import DEFAULT_PRIORITY, Enqueue, PositionChanged

Holding = tuple[float, float]
"""(position, avg_cost) of one account, as the positions subscription last reported it."""

_Waiting = tuple[float, int, int, int]
"""A waiting-heap entry: (due, seq, conid, stamp)."""
_Ready = tuple[int, int, float, int, int, int]
"""A ready-heap entry: (0 if expedited else 1, priority, due, seq, conid, stamp)."""


class ItemState(msgspec.Struct, frozen=True):
    """The persisted form of one item: everything but heap bookkeeping; `delay_s` is how long until due."""

    contract: Contract
    priority: int
    holdings: dict[str, Holding]
    requested: bool
    streaming: bool
    attempts: int
    reason: str
    parked: bool
    delay_s: float


class AuditEntry(msgspec.Struct, frozen=True):
    """One processing attempt of one (conid, account), as `position_queue` records it."""

    conid: int
    account: str
    outcome: Outcome
    attempt: int
    error: str


@dataclass(slots=True)
class _Item:
    """One contract in the queue; `requested`: the streaming side asked us to poll it (active, no line);
    `streaming`: it holds a line now, so it is kept (it is a position) but not handed out."""

    contract: Contract
    priority: int
    holdings: dict[str, Holding] = field(default_factory=dict)
    requested: bool = False
    streaming: bool = False
    attempts: int = 0
    reason: str = ""
    parked: bool = False
    due: float = 0.0
    since: float = 0.0
    expedited: bool = False
    on_loan: bool = False
    stale: bool = False
    stamp: int = 0


class PollQueue:
    """Non-streaming contracts by conid, handed out in batches of due items, most important first."""

    def __init__(self, policy: QueueSettings) -> None:
        self._policy = policy
        self._items: dict[int, _Item] = {}
        self._waiting: list[_Waiting] = []
        self._ready: list[_Ready] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, conid: object) -> bool:
        return conid in self._items

    def learn_position(self, change: PositionChanged, now: float) -> bool:
        """Record a position the subscription reported; a new or changed one is due at once, ahead of others.

        Returns True when the item is new.
        """
        conid = change.contract.conid
        holding = (change.position, change.avg_cost)
        item = self._items.get(conid)
        if item is None:
            item = self._items[conid] = _Item(
                change.contract, DEFAULT_PRIORITY, {change.account: holding}, since=now
            )
            self._schedule(item, now)
            return True
        changed = item.holdings.get(change.account) != holding
        item.holdings[change.account] = holding
        if changed and not item.streaming and not item.parked:
            self._expedite(item, now)
        return False

    def enqueue(self, request: Enqueue, now: float) -> None:
        """Poll an active contract that cannot stream, at the strategy's priority, starting now."""
        conid = request.contract.conid
        item = self._items.get(conid)
        if item is None:
            item = self._items[conid] = _Item(request.contract, request.priority, since=now)
        item.requested, item.streaming, item.priority = True, False, request.priority
        if not item.on_loan and not item.parked:
            self._schedule(item, now)

    def dequeue(self, conid: int) -> None:
        """The contract streams now: stop handing it out; keep it only if it is a position (polled later)."""
        item = self._items.get(conid)
        if item is None:
            return
        if item.holdings:
            item.streaming, item.requested = True, False
        else:
            del self._items[conid]

    def deactivate(self, conid: int, now: float) -> None:
        """The contract left the active set: poll it again at the default priority if it is a position."""
        item = self._items.get(conid)
        if item is None:
            return
        if not item.holdings:
            del self._items[conid]
            return
        item.streaming, item.requested, item.priority = False, False, DEFAULT_PRIORITY
        if not item.on_loan:
            self._schedule(item, now)

    def take_due(self, now: float, limit: int) -> list[PollItem]:
        """Lend up to `limit` due items, most important first; an unanswered loan ends after `lease_s`."""
        self._promote_due(now)
        batch: list[PollItem] = []
        while self._ready and len(batch) < limit:
            *_, conid, stamp = heapq.heappop(self._ready)
            item = self._current(conid, stamp)
            if item is None:
                continue
            accounts = tuple(sorted(item.holdings))
            batch.append(PollItem(item.contract, item.priority, item.attempts + 1, accounts))
            item.on_loan, item.stale = True, False
            self._schedule(item, now + self._policy.lease_s)
        self._compact_heaps()
        return batch

    def record(self, result: ItemOutcome, now: float) -> list[AuditEntry]:
        """Apply one outcome: reschedule, back off or park the item; return its audit entries."""
        item = self._items.get(result.conid)
        if item is None:
            return []
        attempt = item.attempts + 1
        outcome, accounts = result.outcome, sorted(item.holdings)
        item.on_loan = False
        match outcome:
            case Outcome.SUCCESS:
                self._forget_unobserved(item, result.accounts)
                item.attempts, item.reason, item.parked, item.since = 0, "", False, now
                self._reschedule_after(item, now + self._policy.refresh_s, now)
            case Outcome.CLOSED:
                item.holdings.clear()
                item.attempts, item.reason, item.parked = 0, "", False
                if item.requested:
                    self._reschedule_after(item, now + self._policy.refresh_s, now)
                else:
                    del self._items[result.conid]
            case Outcome.DEFERRED:
                attempt = item.attempts
                self._reschedule_after(item, now + self._policy.backoff_min_s, now)
            case _:
                item.attempts, item.reason = attempt, result.error
                if attempt >= self._policy.max_attempts:
                    outcome, item.parked = Outcome.PARKED, True
                    self._schedule(item, now + self._policy.park_s)
                else:
                    self._reschedule_after(item, now + self._backoff(attempt), now)
        return [AuditEntry(result.conid, a, outcome, attempt, result.error) for a in accounts or [""]]

    def oldest_age(self, now: float) -> float:
        """Seconds since the least recently refreshed pollable item was refreshed or joined (0 when empty)."""
        return max((now - i.since for i in self._items.values() if not i.streaming), default=0.0)

    def status(self, now: float) -> QueueStatus:
        """Sizes and the parked items with their reasons (a scan: for status pages, not hot paths)."""
        pollable = [i for i in self._items.values() if not i.streaming]
        return QueueStatus(
            size=len(pollable),
            due=sum(1 for i in pollable if i.due <= now and not i.on_loan),
            on_loan=sum(1 for i in pollable if i.on_loan),
            oldest_age_s=self.oldest_age(now),
            parked=tuple(
                ParkedItem(i.contract.conid, i.contract.symbol, i.attempts, i.reason)
                for i in pollable
                if i.parked
            ),
        )

    def snapshot(self, now: float) -> list[ItemState]:
        """Every item in its persisted form (an item on loan is saved as due at once: a loan dies with its
        process, and a restarted one must not wait out `lease_s` for what a dead poller held)."""
        return [
            ItemState(
                i.contract,
                i.priority,
                dict(i.holdings),
                i.requested,
                i.streaming,
                i.attempts,
                i.reason,
                i.parked,
                0.0 if i.on_loan else max(0.0, i.due - now),
            )
            for i in self._items.values()
        ]

    def restore(self, states: list[ItemState], now: float) -> None:
        """Replace the contents with `states` (from `snapshot`), due times counted from `now`."""
        self._items.clear()
        self._waiting.clear()
        self._ready.clear()
        for s in states:
            item = self._items[s.contract.conid] = _Item(
                s.contract,
                s.priority,
                dict(s.holdings),
                s.requested,
                s.streaming,
                s.attempts,
                s.reason,
                s.parked,
                since=now,
            )
            self._schedule(item, now + s.delay_s)

    def _forget_unobserved(self, item: _Item, observed: tuple[str, ...]) -> None:
        """After a refresh, the accounts that still hold the contract are exactly those observed."""
        for account in set(item.holdings) - set(observed):
            del item.holdings[account]

    def _reschedule_after(self, item: _Item, due: float, now: float) -> None:
        """Schedule at `due`, unless the position changed while on loan: then it is due again at once."""
        if item.stale:
            self._expedite(item, now)
        else:
            self._schedule(item, due)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff after the `attempt`-th consecutive failure, capped at `backoff_max_s`."""
        return min(self._policy.backoff_max_s, self._policy.backoff_min_s * 2 ** (attempt - 1))

    def _expedite(self, item: _Item, now: float) -> None:
        """Make the item due now, ahead of every item that was merely due (or mark it stale while on loan)."""
        if item.on_loan:
            item.stale = True
            return
        self._schedule(item, now)
        item.expedited = True

    def _schedule(self, item: _Item, due: float) -> None:
        """Give the item a new due time; its older heap entries become stale."""
        item.due, item.expedited = due, False
        item.stamp += 1
        heapq.heappush(self._waiting, (due, next(self._seq), item.contract.conid, item.stamp))

    def _promote_due(self, now: float) -> None:
        """Move every live waiting entry whose due time has come to the ready heap."""
        while self._waiting and self._waiting[0][0] <= now:
            due, seq, conid, stamp = heapq.heappop(self._waiting)
            item = self._current(conid, stamp)
            if item is not None:
                item.on_loan = False
                rank = 0 if item.expedited else 1
                heapq.heappush(self._ready, (rank, item.priority, due, seq, conid, stamp))

    def _current(self, conid: int, stamp: int) -> _Item | None:
        """The item a heap entry refers to; None if the entry is stale or the item may not be handed out."""
        item = self._items.get(conid)
        if item is None or item.stamp != stamp or item.streaming:
            return None
        return item

    def _compact_heaps(self) -> None:
        """Rebuild the heaps from the live items when stale entries outnumber them, bounding memory."""
        if len(self._waiting) + len(self._ready) <= 4 * len(self._items) + 64:
            return
        self._ready.clear()
        self._waiting = [
            (i.due, next(self._seq), conid, i.stamp) for conid, i in self._items.items() if not i.streaming
        ]
        heapq.heapify(self._waiting)
