"""StreamFeed: the per-tick half of a stream's line, run where ticks arrive (the connection's loop thread).

A StreamActor makes a feed for each line it is granted and hands it to the connection with `Subscribe`.
The feed holds what turning a tick into observations needs: the contract's positions (set by the
connection, which routes them, before the first tick and on every change) and the last market price.
A tick that changes what a user would chart becomes one observation per account holding the contract
(position and average cost from the positions feed; a contract no account holds is observed as position 0
of the default account), carrying the tick's quote, model greeks and data type, and a held position's
market value and unrealized P&L at the row's price (position x price x multiplier, less position x average
cost). A charted change: a new market price, bid, ask or last, or a greek (implied volatility, delta,
gamma, vega, theta, underlying price) moved by more than `GREEK_EPSILON` of its value (or appeared or
vanished); a size alone is none. A row needs a market price. At most one row per `min_row_interval_s`
(the rows of one tick): a change within it is coalesced, the latest values win, and it is observed by the
first tick after the interval (`on_tick`) or by the streams' write timer (`flush_due`), whichever comes
first. A position change while a price is known is observed at once, whatever the interval. The feed
returns the observations to its caller, which hands them to the session's update dispatcher (the
handlers) at once: the IbSession in one message for all the ticks of one read, the connection one per
position change.

The stream is never woken by a tick: it reads the feed's counters when it needs them, and the stream
supervisor takes the observations of all feeds for the lake writer (`take_rows`, through `StreamRows`) on
its write timer. So a burst of ticks for a hundred streams reaches the handlers in one message and one
thread hop, and the lake writer in one message per interval, and costs the streams nothing.

Thread-safety: ticks come from the loop thread, position changes from the connection's thread; each only
replaces immutable values (the price, the positions tuple) or appends to a deque, and the stream reads
them whole.
"""

import threading
from collections import deque
from datetime import datetime

from possync.messages.connection import TickSink
from possync.messages.domain import Contract, DataType, Greeks, Observation, Source, Tick, Value
from possync.messages.routing import PositionChanged
from possync.supervisors.clock import Clock


class StreamFeed(TickSink):
    """Turns the ticks and position changes of one line into observations (see the module docstring).

    `ticks`, `last_tick_at` (the tree clock's time of the last tick, None before one) and `market_price`
    (the last known) are for the stream to read.
    """

    def __init__(
        self, clock: Clock, contract: Contract, account: str, min_row_interval_s: float = 0.0
    ) -> None:
        """Feed a stream the line of `contract`; `account` labels unheld rows; `clock` times the ticks;
        rows at most one per `min_row_interval_s` (0: every change)."""
        self._clock = clock
        self._contract = contract
        self._account = account
        self._positions: tuple[PositionChanged, ...] = ()
        self._rows: deque[Observation] = deque()
        self._closed = False
        self._due = threading.Lock()  # a coalesced change is observed once: by a tick or by the timer
        self.ticks = 0
        self.last_tick_at: float | None = None
        self.market_price: float | None = None
        self._tick: Tick | None = None  # the last, for the quote, greeks and data type of the rows
        self._shown: Tick | None = None  # the tick of the last row
        self._min_interval = min_row_interval_s
        self._multiplier = _multiplier(contract.multiplier)
        self._next_row_at = 0.0  # the clock's time from which the next tick's row may be made
        self._pending = False  # a change not observed yet (coalesced)

    def set_positions(self, positions: tuple[PositionChanged, ...]) -> None:
        """The positions held in the contract before the first tick (the connection's, when it subscribes)."""
        self._positions = positions

    def position_changed(self, position: PositionChanged) -> tuple[Observation, ...]:
        """A position of the contract changed: keep it; its observation if a price is known."""
        held = {p.account: p for p in self._positions}
        held[position.account] = position
        self._positions = tuple(held.values())
        if self.market_price is None or self._closed:
            return ()
        return self._observe((position,), position.event_ts)

    def on_tick(self, tick: Tick) -> tuple[Observation, ...]:
        """A tick of the line (in the loop thread): count it; the observations of a charted change that
        is due now (this tick's, or a coalesced one's with this tick's values)."""
        if self._closed:
            return ()
        self.ticks += 1
        self.last_tick_at = now = self._clock.now()
        self._tick = tick
        if tick.market_price is not None:
            self.market_price = tick.market_price
        if self.market_price is None:
            return ()
        if not self._pending and not charted_change(tick, self._shown):
            return ()
        if not self._min_interval:  # every change a row: nothing is ever coalesced
            return self._row_now(now, tick)
        with self._due:  # the streams' write timer may observe a coalesced change at the same time
            if now < self._next_row_at:
                self._pending = True
                return ()
            return self._row_now(now, tick)

    def flush_due(self) -> tuple[Observation, ...]:
        """The observations of a coalesced change whose interval is over (the streams' write timer)."""
        if not self._pending or self._closed:
            return ()
        with self._due:
            now, tick = self._clock.now(), self._tick
            if not self._pending or tick is None or now < self._next_row_at:
                return ()
            return self._row_now(now, tick)

    @property
    def data_type(self) -> DataType | None:
        """What kind of data the last tick was (None before one)."""
        return self._tick.data_type if self._tick is not None else None

    def take_rows(self) -> list[Observation]:
        """The observations made since the last call, in order (the stream's, for the lake writer)."""
        rows = []
        while self._rows:
            rows.append(self._rows.popleft())
        return rows

    def close(self) -> None:
        """The line is being given back: no tick or observation comes from this feed any more."""
        self._closed = True

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def _row_now(self, now: float, tick: Tick) -> tuple[Observation, ...]:
        self._shown = tick
        self._pending = False
        self._next_row_at = now + self._min_interval
        return self._observe(self._positions or (None,), tick.event_ts)

    def _observe(
        self, positions: tuple[PositionChanged | None, ...], event_ts: datetime
    ) -> tuple[Observation, ...]:
        rows = tuple(self._observation(position, event_ts) for position in positions)
        self._rows.extend(rows)
        return rows

    def _observation(self, position: PositionChanged | None, event_ts: datetime) -> Observation:
        tick, price = self._tick, self.market_price  # positional arguments: this runs for every row
        quote, greeks, data_type = (
            (None, None, None) if tick is None else (tick.quote, tick.greeks, tick.data_type)
        )
        if position is None:
            return Observation(
                self._account,
                self._contract,
                0.0,
                None,
                price,
                _STREAM,
                event_ts,
                data_type,
                None,
                quote,
                greeks,
            )
        p = position
        value = None if price is None else self._value(p.position, p.avg_cost, price)
        return Observation(
            p.account,
            p.contract,
            p.position,
            p.avg_cost,
            price,
            _STREAM,
            event_ts,
            data_type,
            value,
            quote,
            greeks,
        )

    def _value(self, position: float, avg_cost: float, price: float) -> Value:
        """A held position's worth at the row's price, as IB values it: market value = position x price x
        multiplier, unrealized P&L = market value - position x average cost (per contract for options)."""
        market_value = position * price * self._multiplier
        return Value(market_value, market_value - position * avg_cost)


_STREAM = Source.STREAM
GREEK_EPSILON = 1e-3
"""A greek that moved by more than this fraction of its value is a change worth a row (0.1 %)."""


def charted_change(tick: Tick, shown: Tick | None) -> bool:
    """True when `tick` shows something a user would chart that the tick of the last row did not."""
    if shown is None:
        return True
    if tick.market_price != shown.market_price and tick.market_price is not None:
        return True
    q, s = tick.quote, shown.quote
    if q is not s and q is not None and s is not None:
        if q.bid != s.bid or q.ask != s.ask or q.last != s.last:
            return True
    elif (q is None) != (s is None):
        return True
    return tick.greeks is not shown.greeks and _greeks_moved(tick.greeks, shown.greeks)


def _greeks_moved(g: Greeks | None, s: Greeks | None) -> bool:
    if g is None or s is None:
        return g is not s
    if g == s:
        return False
    return (
        _moved(g.delta, s.delta) or _moved(g.implied_vol, s.implied_vol) or _moved(g.gamma, s.gamma)
        or _moved(g.vega, s.vega) or _moved(g.theta, s.theta) or _moved(g.und_price, s.und_price)
    )  # fmt: skip


def _moved(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is not b
    return abs(a - b) > GREEK_EPSILON * max(abs(a), abs(b))


def _multiplier(text: str) -> float:
    try:
        return float(text) if text else 1.0
    except ValueError:
        return 1.0
