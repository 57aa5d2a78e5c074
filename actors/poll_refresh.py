"""One batch refresh as pure functions: the connection's positions in, observations and outcomes out.

The rules that keep the lake honest:
- a position the reply holds is observed as it is (quantity and average cost from the positions
  subscription, price from portfolio updates when there is one);
- an account that held the contract, is covered by a *complete* reply and no longer holds it is closed:
  an observation with position 0 is written, never a silent drop;
- a contract no covered account holds or held (an active contract without a line) has nothing to observe
  without a snapshot: a failure with that reason, so it backs off and is parked rather than retried hot;
- an incomplete reply (no positionEnd yet) or no reply at all proves nothing: every item is deferred with
  the reason, and no observation is written (a failed or timed-out request never reads as flat).
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from messages.domain import Observation, Source
from messages.poller import HeldPosition, PositionsReply
from messages.queue import ItemOutcome, Outcome, PollItem

NOTHING_TO_OBSERVE = "not held by any account and no snapshot line granted: nothing to observe"


def deferred(items: Iterable[PollItem], reason: str) -> list[ItemOutcome]:
    """Every item deferred for `reason` (something outside the items failed)."""
    return [ItemOutcome(item.contract.conid, Outcome.DEFERRED, reason) for item in items]


def observe(held: HeldPosition, source: Source, event_ts: datetime) -> Observation:
    """A held position as an observation."""
    return Observation(
        held.account, held.contract, held.position, held.avg_cost, held.market_price, source, event_ts
    )


def refresh_batch(
    items: Iterable[PollItem], reply: PositionsReply, event_ts: datetime
) -> tuple[list[Observation], list[ItemOutcome]]:
    """The observations to write (source poll) and each item's outcome, from one positions reply."""
    items = list(items)
    if not reply.complete:
        return [], deferred(items, "the gateway has not finished sending positions (no positionEnd yet)")
    by_conid: dict[int, list[HeldPosition]] = defaultdict(list)
    for held in reply.positions:
        by_conid[held.contract.conid].append(held)
    observations: list[Observation] = []
    outcomes: list[ItemOutcome] = []
    for item in items:
        conid = item.contract.conid
        held = by_conid.get(conid, [])
        observed = tuple(sorted(h.account for h in held))
        gone = [a for a in item.accounts if a in reply.accounts and a not in observed]
        observations += [observe(h, Source.POLL, event_ts) for h in held]
        observations += [Observation(a, item.contract, 0.0, None, None, Source.POLL, event_ts) for a in gone]
        uncovered = tuple(a for a in item.accounts if a not in reply.accounts)  # nothing known: keep them
        if not held and not item.accounts:
            outcomes.append(ItemOutcome(conid, Outcome.FAILED, NOTHING_TO_OBSERVE))
            continue
        outcome = Outcome.CLOSED if gone and not held and not uncovered else Outcome.SUCCESS
        outcomes.append(ItemOutcome(conid, outcome, accounts=observed + uncovered))
    return observations, outcomes
