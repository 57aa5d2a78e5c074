"""Drift between the gateway's full position list and the lake's latest state, as observations to append.

Pure: `find_drift` compares; the ReconcilerActor fetches both sides and writes what it returns.
"""

import math
from datetime import datetime

from possync.actors.lake import PositionKey
from possync.actors.polling._refresh import observe
from possync.messages.domain import Observation, Source
from possync.messages.poller import HeldPosition, PositionsReply


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _agrees(known: Observation, held: HeldPosition) -> bool:
    """The lake's row records the quantity and average cost the gateway holds."""
    return _same(known.position, held.position) and _same(known.avg_cost, held.avg_cost)


def find_drift(
    reply: PositionsReply, lake: dict[PositionKey, Observation], event_ts: datetime
) -> list[Observation]:
    """Observations (source reconcile) that make the lake agree with a complete `reply`.

    A held position the lake lacks, or records with another quantity or average cost, is written as the
    gateway says; an open position in the lake that a covered account no longer holds is closed (0).
    """
    if not reply.complete:
        raise ValueError("drift needs a complete position list (after positionEnd)")
    drift: list[Observation] = []
    held_keys: set[PositionKey] = set()
    for held in reply.positions:
        key = (held.account, held.contract.conid)
        held_keys.add(key)
        known = lake.get(key)
        if known is None or not _agrees(known, held):
            drift.append(observe(held, Source.RECONCILE, event_ts))
    for (account, conid), known in lake.items():
        if account in reply.accounts and (account, conid) not in held_keys and known.position != 0:
            drift.append(Observation(account, known.contract, 0.0, None, None, Source.RECONCILE, event_ts))
    return drift
