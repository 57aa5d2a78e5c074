"""Market-data lines and subscriptions, and the one pump task that streams every subscription's ticks."""

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from loguru import logger

from possync.simulator import outgoing
from possync.simulator.access import served_type
from possync.simulator.instruments import DemoContract
from possync.simulator.options import OptionQuote, Underlyings, computation_message
from possync.simulator.protocol import Tick
from possync.simulator.quotes import Quote

_STREAM_ROTATION = (Tick.BID, Tick.ASK, Tick.LAST, Tick.VOLUME)
"""What one subscription sends on successive pump cycles: one message per cycle."""
_OPENING = (Tick.BID, Tick.ASK, Tick.LAST, Tick.CLOSE, Tick.VOLUME)
"""What a new subscription is sent at once."""

AnyQuote = Quote | OptionQuote
"""A contract's live market: a stock's own walk, or an option priced from its underlying's."""
SentTick = tuple[int, int, int, float | None]
"""One tick as the send hook sees it: (reqId, conid, tick type, price; None for a size tick)."""
SendHook = Callable[[float, list[SentTick]], None]
"""Instrumentation (benchmarks): `hook(sent_at, ticks)` after each write of ticks to one client, where
`sent_at` is `time.monotonic()` taken just before the write. Runs on the simulator's loop: keep it quick."""


class TickSink(Protocol):
    """Where a subscription's messages go: a client session."""

    def send(self, data: bytes) -> None:
        """Queue framed bytes for the client."""


class Subscription:
    """One reqMktData that holds a line: streaming until cancelled, or a snapshot until it ends.

    `live`: live data, else delayed; `frozen_ok`: the client asked for frozen data (type 2 or 4), so a
    closed market sends it the last values; `is_open`: its market is open; `dormant`: a competing live
    session took its data (10197) and it gets nothing more until the client subscribes again.
    """

    __slots__ = (
        "conid",
        "dormant",
        "end_timer",
        "frozen_ok",
        "is_open",
        "live",
        "phase",
        "req_id",
        "sink",
        "snapshot",
    )

    def __init__(
        self, sink: TickSink, req_id: int, conid: int, snapshot: bool, live: bool, frozen_ok: bool
    ) -> None:
        self.sink = sink
        self.req_id = req_id
        self.conid = conid
        self.snapshot = snapshot
        self.live = live
        self.frozen_ok = frozen_ok
        self.is_open = True
        self.dormant = False
        self.phase = req_id % len(_STREAM_ROTATION)
        self.end_timer: asyncio.TimerHandle | None = None

    @property
    def streaming(self) -> bool:
        """Whether the pump sends this subscription ticks."""
        return self.is_open and not (self.snapshot or self.dormant)

    @property
    def data_type(self) -> int:
        """The market data type it gets now (1 live, 2 frozen, 3 delayed, 4 delayed frozen)."""
        return served_type(self.live, self.frozen_ok, self.is_open)

    def tick_type(self, tick: Tick) -> int:
        """The wire tick type for this subscription (delayed data uses IB's delayed types)."""
        return int(tick) if self.live else tick.delayed()

    def opening(self, quote: Quote) -> bytes:
        """What a new subscription is sent at once: its market data type, then the current values."""
        ticks = (self.message(tick, quote) for tick in _OPENING)
        return outgoing.market_data_type(self.req_id, self.data_type) + b"".join(ticks)

    def session_changed(self, quote: Quote) -> bytes:
        """What a client that asked for frozen data gets when the market opens (the new type) or closes
        (the frozen type and the last values once); other clients get nothing, their ticks just stop."""
        if not self.frozen_ok or self.dormant:
            return b""
        if self.is_open:
            return outgoing.market_data_type(self.req_id, self.data_type)
        return self.opening(quote)

    @property
    def blank(self) -> bool:
        """A closed market seen without frozen data: it has no bid or ask, and IB sends -1 for them."""
        return not (self.is_open or self.frozen_ok)

    def sent(self, tick: Tick, quote: AnyQuote) -> SentTick:
        """What the send hook is told about one tick of `quote`."""
        match tick:
            case Tick.BID | Tick.ASK if self.blank:
                price: float | None = -1.0
            case Tick.BID:
                price = quote.bid
            case Tick.ASK:
                price = quote.ask
            case Tick.LAST:
                price = quote.last
            case Tick.CLOSE:
                price = quote.close
            case _:
                price = None
        return (self.req_id, self.conid, self.tick_type(tick), price)

    def message(self, tick: Tick, quote: AnyQuote) -> bytes:
        """The framed message carrying one tick of `quote` (with its option computation for an option)."""
        return self._price_message(tick, quote) + computation_message(self.req_id, tick, quote, not self.live)

    def _price_message(self, tick: Tick, quote: AnyQuote) -> bytes:
        """The tickPrice/tickSize message of one tick of `quote`."""
        kind = self.tick_type(tick)
        match tick:
            case Tick.BID | Tick.ASK if self.blank:
                return outgoing.tick_price(self.req_id, kind, -1.0, 0)
            case Tick.BID:
                return outgoing.tick_price(self.req_id, kind, quote.bid, quote.bid_size)
            case Tick.ASK:
                return outgoing.tick_price(self.req_id, kind, quote.ask, quote.ask_size)
            case Tick.LAST:
                return outgoing.tick_price(self.req_id, kind, quote.last, quote.last_size)
            case Tick.CLOSE:
                return outgoing.tick_price(self.req_id, kind, quote.close, 0)
            case _:
                return outgoing.tick_size(self.req_id, kind, quote.volume)


class Market:
    """The account's market-data lines: who holds one, the quotes, and the tick pump.

    Not thread-safe: the simulator's event loop owns it. A subscription past `max_lines` is refused
    (the caller sends error 101) and holds nothing.
    """

    def __init__(
        self, max_lines: int, tick_hz: float, snapshot_hold: float, seed: int, tick_slots: int = 1
    ) -> None:
        self.max_lines = max_lines
        self._interval = 1.0 / tick_hz
        self._slots = tick_slots
        self._snapshot_hold = snapshot_hold
        self._rng = random.Random(seed)
        self._subs: dict[tuple[TickSink, int], Subscription] = {}
        self._quotes: dict[int, AnyQuote] = {}
        self.underlyings: Underlyings | None = None
        """Set by the gateway: without it an option's quote walks on its own like a stock's."""
        self._halts: set[str] = set()
        self.ticks_sent = 0
        self.cycles = 0
        self.peak_lines = 0
        self.max_lag = 0.0
        self.on_send: SendHook | None = None
        """Off (None) unless a benchmark measures tick latency: see `SendHook`."""
        self.open_check: Callable[[int], bool] = lambda _conid: True
        """Whether a conid's market is open now (the gateway sets it: see `hours.MarketHours`)."""

    @property
    def lines_held(self) -> int:
        """Lines held right now by streaming subscriptions and snapshots in progress."""
        return len(self._subs)

    @property
    def halted(self) -> bool:
        """Whether streaming is stopped (connectivity lost, farm broken, gateway paused)."""
        return bool(self._halts)

    def halt(self, reason: str) -> None:
        """Stop streaming ticks until every reason given is lifted."""
        self._halts.add(reason)

    def lift(self, reason: str) -> None:
        """Lift one reason for halting."""
        self._halts.discard(reason)

    def set_tick_hz(self, tick_hz: float) -> None:
        """Stream `tick_hz` ticks per second per subscription from the next pump cycle on."""
        if not 0 < tick_hz <= 1000:
            raise ValueError(f"tick_hz={tick_hz!r} is out of range: use a rate in (0, 1000] ticks/s")
        self._interval = 1.0 / tick_hz

    def holds(self, sink: TickSink, req_id: int) -> bool:
        """Whether this client's reqId holds a line."""
        return (sink, req_id) in self._subs

    def subscribe(
        self,
        sink: TickSink,
        req_id: int,
        contract: DemoContract,
        *,
        snapshot: bool,
        live: bool = True,
        frozen_ok: bool = False,
        preamble: bytes = b"",
    ) -> bool:
        """Take a line and send `preamble` (warnings), the market data type and the current values;
        False (nothing held, nothing sent) when every line is taken."""
        if len(self._subs) >= self.max_lines:
            return False
        sub = Subscription(sink, req_id, contract.conid, snapshot, live, frozen_ok)
        sub.is_open = self.open_check(contract.conid)
        self._subs[sink, req_id] = sub
        self.peak_lines = max(self.peak_lines, len(self._subs))
        quote = self._quote(contract)
        sent_at = time.monotonic()
        sink.send(preamble + sub.opening(quote))
        if self.on_send is not None:
            self.on_send(sent_at, [sub.sent(tick, quote) for tick in _OPENING])
        if snapshot:
            sub.end_timer = asyncio.get_running_loop().call_later(
                self._snapshot_hold, self._end_snapshot, sub
            )
        return True

    def silence_live(self, notice: Callable[[int], bytes]) -> int:
        """Stop every live subscription (a competing live session took the data): each is sent
        `notice(reqId)` and keeps its line until cancelled; return how many."""
        silenced = [sub for sub in self._subs.values() if sub.live and not sub.dormant]
        for sub in silenced:
            sub.dormant = True
            sub.sink.send(notice(sub.req_id))
        return len(silenced)

    def cancel(self, sink: TickSink, req_id: int) -> bool:
        """Release the line of one subscription; False when that reqId held none."""
        sub = self._subs.get((sink, req_id))
        if sub is not None:
            self._remove(sub)
        return sub is not None

    def release(self, sink: TickSink) -> int:
        """Release every line of one client (it disconnected); return how many."""
        mine = [sub for sub in self._subs.values() if sub.sink is sink]
        for sub in mine:
            self._remove(sub)
        return len(mine)

    def release_all(self) -> int:
        """Drop every subscription of every client, as a gateway does when data is lost (1101)."""
        count = len(self._subs)
        for sub in list(self._subs.values()):
            self._remove(sub)
        return count

    def price(self, conid: int) -> float | None:
        """The last traded price of a contract that has been quoted, else None."""
        quote = self._quotes.get(conid)
        return quote.last if quote else None

    async def pump(self) -> None:
        """Send one tick per streaming subscription every 1/tick_hz s; never bursts to catch up.

        A cycle is `tick_slots` evenly spaced writes, subscription reqId in slot reqId % tick_slots
        (1: every subscription's tick in one write per cycle).
        """
        loop = asyncio.get_running_loop()
        due = loop.time()
        slot = 0
        while True:
            due += self._interval / self._slots
            await asyncio.sleep(max(due - loop.time(), 0.0))
            lag = loop.time() - due
            self.max_lag = max(self.max_lag, lag)
            if lag > self._interval:
                due = loop.time()  # more than a cycle behind: skip the missed cycles
            self.cycles += slot == 0
            if not self._halts:
                if slot == 0:
                    self._open_or_close()
                self._cycle(slot)
            slot = (slot + 1) % self._slots

    def _cycle(self, slot: int = 0) -> None:
        """Advance the streamed quotes of `slot` once and send each of its subscriptions its next tick."""
        hook = self.on_send
        batches: dict[TickSink, list[bytes]] = defaultdict(list)
        sent: dict[TickSink, list[SentTick]] = defaultdict(list)
        stepped: set[AnyQuote] = set()
        for sub in self._subs.values():
            if not sub.streaming or sub.req_id % self._slots != slot:
                continue
            quote = self._quotes[sub.conid]
            _step(quote, stepped)
            tick = _STREAM_ROTATION[sub.phase]
            batches[sub.sink].append(sub.message(tick, quote))
            if hook is not None:
                sent[sub.sink].append(sub.sent(tick, quote))
            sub.phase = (sub.phase + 1) % len(_STREAM_ROTATION)
        for sink, messages in batches.items():
            sent_at = time.monotonic()
            sink.send(b"".join(messages))
            self.ticks_sent += len(messages)
            if hook is not None:
                hook(sent_at, sent[sink])

    def _open_or_close(self) -> None:
        """Follow each subscription's market opening or closing (see `Subscription.session_changed`)."""
        for sub in self._subs.values():
            is_open = self.open_check(sub.conid)
            if is_open != sub.is_open:
                sub.is_open = is_open
                if message := sub.session_changed(self._quotes[sub.conid]):
                    sub.sink.send(message)

    def _end_snapshot(self, sub: Subscription) -> None:
        """A snapshot's hold is over: release its line and tell the client it is complete."""
        self._remove(sub)
        sub.sink.send(outgoing.tick_snapshot_end(sub.req_id))
        logger.debug("snapshot {} ended, line released", sub.req_id)

    def _remove(self, sub: Subscription) -> None:
        """Forget a subscription and cancel its snapshot timer."""
        del self._subs[sub.sink, sub.req_id]
        if sub.end_timer is not None:
            sub.end_timer.cancel()

    def _quote(self, contract: DemoContract) -> AnyQuote:
        """The quote of a contract, created on its first subscription (an option's with its underlying's)."""
        if contract.conid not in self._quotes:
            if contract.sec_type == "OPT" and self.underlyings is not None:
                underlying = self._quote(self.underlyings.underlying(contract))
                years = self.underlyings.years(contract)
                self._quotes[contract.conid] = OptionQuote(contract, underlying, years, self._rng)
            else:
                self._quotes[contract.conid] = Quote(contract, self._rng)
        return self._quotes[contract.conid]


def _step(quote: AnyQuote, stepped: set[AnyQuote]) -> None:
    """Move a quote once per cycle; an option's underlying moves first, and the option follows it."""
    if quote in stepped:
        return
    if isinstance(quote, OptionQuote):
        _step(quote.underlying, stepped)
    quote.step()
    stepped.add(quote)
