"""Tick latency without touching the ticks: which update a receiver saw comes from the prices themselves.

The simulator's send hook records each tick it writes (sent_at, conid, tick type, price). A receiver
(possync's `on_update` handler, or a bare ib_insync client applying the same rule) reports an update when
a contract's market price changes, as ib_insync computes it (`Ticker.marketPrice`: the last price when it
lies within bid/ask, else the midpoint). `change_points` replays the sent ticks through that rule: each
contract's sequence of market-price changes with the time the tick causing it was sent. `latencies`
walks each contract's updates in order and pairs each with the earliest unpaired change to that price
sent before it was received (changes skipped over, e.g. ticks coalesced by the client, are consumed).
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bench.simproc import Record

BID, ASK, LAST = {1, 66}, {2, 67}, {4, 68}


@dataclass
class Quote:
    """What a client knows of one contract: bid, ask, last (NaN until seen)."""

    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan

    def market_price(self) -> float:
        """ib_insync's Ticker.marketPrice for this state (sizes are always positive in the simulator)."""
        if not (math.isnan(self.bid) or math.isnan(self.ask)):
            return self.last if self.bid <= self.last <= self.ask else (self.bid + self.ask) * 0.5
        return self.last


def change_points(records: Iterable[Record]) -> dict[int, list[tuple[float, float]]]:
    """Per conid, each (sent_at, new market price) in send order.

    The replay starts from nothing, the receiver from what it saw before the records began: a contract's
    first market price (once bid, ask and last have all been seen) is its starting point, not a change.
    """
    quotes: dict[int, Quote] = defaultdict(Quote)
    changes: dict[int, list[tuple[float, float]]] = defaultdict(list)
    previous: dict[int, float] = {}
    for sent_at, conid, kind, price in records:
        if price is None:
            continue
        quote = quotes[conid]
        if kind in BID:
            quote.bid = price
        elif kind in ASK:
            quote.ask = price
        elif kind in LAST:
            quote.last = price
        else:
            continue
        if math.isnan(quote.bid) or math.isnan(quote.ask) or math.isnan(quote.last):
            continue
        market = quote.market_price()
        if conid in previous and market != previous[conid]:
            changes[conid].append((sent_at, market))
        previous[conid] = market
    return changes


@dataclass
class Matched:
    """Updates paired with the send of the change they report: (received_at, latency s), and the rest."""

    pairs: list[tuple[float, float]]
    unmatched: int


def latencies(
    changes: dict[int, list[tuple[float, float]]], updates: Iterable[tuple[float, int, float | None]]
) -> Matched:
    """Pair every update (received_at, conid, market price) with its change (module docstring)."""
    by_conid: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for received_at, conid, price in updates:
        if price is not None:
            by_conid[conid].append((received_at, price))
    pairs: list[tuple[float, float]] = []
    unmatched = 0
    for conid, received in by_conid.items():
        points = changes.get(conid, [])
        next_point = 0
        for received_at, price in sorted(received):
            found = _first_change_to(points, next_point, price, received_at)
            if found is None:
                unmatched += 1
                continue
            pairs.append((received_at, received_at - points[found][0]))
            next_point = found + 1
    pairs.sort()
    return Matched(pairs, unmatched)


def _first_change_to(
    points: list[tuple[float, float]], start: int, price: float, received_at: float
) -> int | None:
    """The index of the first change from `start` to `price` sent by `received_at`, or None."""
    for index in range(start, len(points)):
        sent_at, market = points[index]
        if sent_at > received_at:
            return None
        if abs(market - price) < 1e-9:
            return index
    return None
