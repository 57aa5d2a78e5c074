"""StreamFeed: the per-tick half of a stream's line, run where ticks arrive (the connection's loop thread).

A StreamActor makes a feed for each line it is granted and hands it to the connection with `Subscribe`.
The feed holds what turning a tick into observations needs: the contract's positions (set by the
connection, which routes them, before the first tick and on every change) and the last market price.
Each new market price becomes one observation per account holding the contract (position and average cost
from the positions feed; a contract no account holds is observed as position 0 of the default account); a
position change while a price is known is observed the same way. The feed returns the observations to its
caller, which hands them to the session's update dispatcher (the handlers) at once: the IbSession in one
message for all the ticks of one read, the connection one per position change.

The stream is never woken by a tick: it reads the feed's counters when it needs them, and takes the
observations for the lake writer (`take_rows`) on its own write timer. So a burst of ticks for a hundred
streams reaches the handlers in one message and one thread hop, and costs the streams nothing.

Thread-safety: ticks come from the loop thread, position changes from the connection's thread; each only
replaces immutable values (the price, the positions tuple) or appends to a deque, and the stream reads
them whole.
"""

from collections import deque
from datetime import datetime

from possync.messages.connection import TickSink
from possync.messages.domain import Contract, DataType, Observation, Source, Tick
from possync.messages.routing import PositionChanged
from possync.supervisors.clock import Clock


class StreamFeed(TickSink):
    """Turns the ticks and position changes of one line into observations (see the module docstring).

    `ticks`, `last_tick_at` (the tree clock's time of the last tick, None before one) and `market_price`
    (the last known) are for the stream to read.
    """

    def __init__(self, clock: Clock, contract: Contract, account: str) -> None:
        """Feed a stream the line of `contract`; `account` labels unheld rows; `clock` times the ticks."""
        self._clock = clock
        self._contract = contract
        self._account = account
        self._positions: tuple[PositionChanged, ...] = ()
        self._rows: deque[Observation] = deque()
        self._closed = False
        self.ticks = 0
        self.last_tick_at: float | None = None
        self.market_price: float | None = None
        self._tick: Tick | None = None  # the last, for the quote, greeks and data type of the rows

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
        """A tick of the line (in the loop thread): count it; the observations of a new market price."""
        if self._closed:
            return ()
        self.ticks += 1
        self.last_tick_at = self._clock.now()
        self._tick = tick
        if tick.market_price is None or tick.market_price == self.market_price:
            return ()
        self.market_price = tick.market_price
        return self._observe(self._positions or (None,), tick.event_ts)

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

    def _observe(
        self, positions: tuple[PositionChanged | None, ...], event_ts: datetime
    ) -> tuple[Observation, ...]:
        rows = tuple(self._observation(position, event_ts) for position in positions)
        self._rows.extend(rows)
        return rows

    def _observation(self, position: PositionChanged | None, event_ts: datetime) -> Observation:
        return Observation(
            account=self._account if position is None else position.account,
            contract=self._contract if position is None else position.contract,
            position=0.0 if position is None else position.position,
            avg_cost=None if position is None else position.avg_cost,
            market_price=self.market_price,
            source=Source.STREAM,
            event_ts=event_ts,
            data_type=self._tick.data_type if self._tick is not None else None,
            quote=self._tick.quote if self._tick is not None else None,
            greeks=self._tick.greeks if self._tick is not None else None,
        )
