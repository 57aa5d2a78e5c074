"""One batch refresh as pure functions: the connection's positions in, observations and outcomes out.

The rules that keep the lake honest:
- a position the reply holds is observed as it is (quantity and average cost from the positions
  subscription, price and value from portfolio updates when there is one, else from the P&L channel);
- an account that held the contract, is covered by a *complete* reply and no longer holds it is closed:
  an observation with position 0 is written, never a silent drop;
- a contract without a price this cycle (no covered account holds or held it: an active contract without
  a line; or its portfolio update has none) needs a snapshot (`wants_snapshot`), unless the P&L channel
  values it (subscribed: its value, and the price it implies, come without a line). A snapshot's price is
  written with source `snapshot` (a contract nobody holds as position 0 of `account`); a refused snapshot
  is a failure with the gateway's reason; a contract with nothing to observe and no snapshot line this
  cycle is deferred (`no_line` says why) when snapshots are on, else a failure, so it is parked rather
  than retried hot;
- an incomplete reply (no positionEnd yet) or no reply at all proves nothing: every item is deferred with
  the reason, and no observation is written (a failed or timed-out request never reads as flat).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from possync.messages.domain import DataType, Observation, Source
from possync.messages.poller import HeldPosition, PositionsReply
from possync.messages.queue import ItemOutcome, Outcome, PollItem
from possync.messages.snapshots import Snapshot

NOTHING_TO_OBSERVE = (
    "not held by any account, and snapshots are off (poller.snapshot_lines = 0): nothing to observe"
)


def deferred(items: Iterable[PollItem], reason: str) -> list[ItemOutcome]:
    """Every item deferred for `reason` (something outside the items failed)."""
    return [ItemOutcome(item.contract.conid, Outcome.DEFERRED, reason) for item in items]


def observe(
    held: HeldPosition, source: Source, event_ts: datetime, data_type: DataType | None = None
) -> Observation:
    """A held position as an observation (`data_type`: of a snapshot's price; a portfolio mark has none)."""
    return Observation(
        held.account,
        held.contract,
        held.position,
        held.avg_cost,
        held.market_price,
        source,
        event_ts,
        data_type=data_type,
        value=held.value,
    )


def wants_snapshot(items: Iterable[PollItem], reply: PositionsReply) -> list[PollItem]:
    """The items this reply gives no price for, in batch order (most important first)."""
    if not reply.complete:
        return []
    priced = {h.contract.conid for h in reply.positions if h.market_price is not None or h.pnl}
    held = {h.contract.conid for h in reply.positions}
    return [
        item
        for item in items
        if item.contract.conid not in priced and (item.contract.conid in held or not item.accounts)
    ]


def refresh_batch(
    items: Iterable[PollItem],
    reply: PositionsReply,
    event_ts: datetime,
    snapshots: Mapping[int, Snapshot] | None = None,
    account: str = "",
    no_line: str = "",
) -> tuple[list[Observation], list[ItemOutcome]]:
    """The observations to write and each item's outcome, from one positions reply and the `snapshots`
    taken (by conid); `no_line`, if any, is why a contract with nothing to observe got no snapshot line."""
    items = list(items)
    snapshots = snapshots or {}
    if not reply.complete:
        return [], deferred(items, "the gateway has not finished sending positions (no positionEnd yet)")
    by_conid: dict[int, list[HeldPosition]] = defaultdict(list)
    for held in reply.positions:
        by_conid[held.contract.conid].append(held)
    observations: list[Observation] = []
    outcomes: list[ItemOutcome] = []
    for item in items:
        conid = item.contract.conid
        snapshot = snapshots.get(conid)
        price = snapshot.market_price if snapshot is not None else None
        held = by_conid.get(conid, [])
        observed = tuple(sorted(h.account for h in held))
        gone = [a for a in item.accounts if a in reply.accounts and a not in observed]
        observations += [_priced(h, snapshot, event_ts) for h in held]
        observations += [Observation(a, item.contract, 0.0, None, None, Source.POLL, event_ts) for a in gone]
        uncovered = tuple(a for a in item.accounts if a not in reply.accounts)  # nothing known: keep them
        if not held and not item.accounts:
            if price is not None:
                observations.append(
                    Observation(
                        account,
                        item.contract,
                        0.0,
                        None,
                        price,
                        Source.SNAPSHOT,
                        event_ts,
                        data_type=snapshot.data_type if snapshot is not None else None,
                    )
                )
            outcomes.append(_unheld_outcome(conid, snapshot, no_line))
            continue
        outcome = Outcome.CLOSED if gone and not held and not uncovered else Outcome.SUCCESS
        outcomes.append(ItemOutcome(conid, outcome, accounts=observed + uncovered))
    return observations, outcomes


def _priced(held: HeldPosition, snapshot: Snapshot | None, event_ts: datetime) -> Observation:
    """A held position, its price from a snapshot when the portfolio had none."""
    if held.market_price is None and snapshot is not None and snapshot.market_price is not None:
        priced = msgspec.structs.replace(held, market_price=snapshot.market_price)
        return observe(priced, Source.SNAPSHOT, event_ts, snapshot.data_type)
    return observe(held, Source.POLL, event_ts)


def _unheld_outcome(conid: int, snapshot: Snapshot | None, no_line: str) -> ItemOutcome:
    """A contract nobody holds is observed by its snapshot only."""
    if snapshot is None and no_line:
        return ItemOutcome(conid, Outcome.DEFERRED, f"no snapshot line this cycle: {no_line}")
    if snapshot is None:
        return ItemOutcome(conid, Outcome.FAILED, NOTHING_TO_OBSERVE)
    if snapshot.market_price is not None:
        return ItemOutcome(conid, Outcome.SUCCESS)
    if snapshot.code:
        return ItemOutcome(conid, Outcome.FAILED, f"snapshot refused ({snapshot.code}: {snapshot.error})")
    return ItemOutcome(conid, Outcome.FAILED, f"snapshot without a price: {snapshot.error or 'none came'}")
