"""An option's simulated market, priced from its underlying's walk, and its tickOptionComputation messages.

The option's quote is not a walk of its own: each step re-prices it by Black-Scholes (greeks.py) at the
underlying's current last price, so it moves with the underlying. A streamed option line carries one
option computation with each of its ticks: bid -> tick type 10, ask -> 11, last -> 12, and the volume
tick -> 13 (the model), never more often than the line's ticks; a new line gets all four at once.
"""

import random
from typing import Protocol

import msgspec

from possync.simulator.greeks import MIN_TICK, Greeks, black_scholes, implied_volatility
from possync.simulator.instruments import DemoContract
from possync.simulator.protocol import Out, Tick
from possync.simulator.quotes import Quote
from possync.simulator.wire import frame

_SPREAD = 0.005
"""Half the bid/ask spread, as a fraction of the model price (at least one tick)."""

COMPUTATION_TICKS = {Tick.BID: 10, Tick.ASK: 11, Tick.LAST: 12, Tick.VOLUME: 13}
"""Which option computation (tick type) rides along with which tick of an option line."""
DELAYED_OFFSET = 70
"""Delayed option computations are tick types 80..83 (IB's DELAYED_BID_OPTION... DELAYED_MODEL_OPTION)."""
RETURN_BASED = 0
"""tickAttrib: 0 return-based, 1 price-based (IB's EWrapper docs); equity options here are return-based."""
NOT_COMPUTED_VOL, NOT_COMPUTED_GREEK = -1.0, -2.0
"""What IB sends for a value it could not compute (the official decoder maps them to None)."""


class Underlyings(Protocol):
    """Where an option's underlying and time to expiry come from (the gateway's Pricing)."""

    def underlying(self, option: DemoContract) -> DemoContract:
        """The contract whose walk the option's price follows."""

    def years(self, option: DemoContract) -> float:
        """The option's time to expiry in years."""


class OptionQuote:
    """The live market of one option: bid/ask/last around the model price at the underlying's last price."""

    def __init__(self, contract: DemoContract, underlying: Quote, years: float, rng: random.Random) -> None:
        self.contract = contract
        self.underlying = underlying
        self.years = years
        self._rng = rng
        self.close = max(contract.price, MIN_TICK)
        self.volume = 0
        self.model = self._model()
        self.bid = self.ask = self.last = self.close
        self.bid_size = self.ask_size = self.last_size = 0
        self.step()

    def step(self) -> None:
        """Re-price from the underlying's last price (the market steps the underlying first); new sizes."""
        rng = self._rng
        self.model = self._model()
        mid = max(_tick(self.model.price), MIN_TICK)
        half_spread = max(_tick(mid * _SPREAD), MIN_TICK)
        self.bid = max(_tick(mid - half_spread), MIN_TICK)
        self.ask = _tick(self.bid + 2 * half_spread)
        self.last = rng.choice((self.bid, self.ask, mid))
        self.bid_size = rng.randint(1, 50)
        self.ask_size = rng.randint(1, 50)
        self.last_size = rng.randint(1, 10)
        self.volume += self.last_size

    def computation(self, tick: Tick) -> Greeks | None:
        """The computation for a bid/ask/last tick (at that price's implied volatility) or the model's."""
        if tick == Tick.VOLUME:
            return self.model
        price = _tick_price(tick, self)
        contract, spot = self.contract, self.underlying.last
        vol = implied_volatility(price, spot, contract.strike, self.years, contract.right)
        if vol is None:
            return None
        greeks = black_scholes(spot, contract.strike, self.years, vol, contract.right)
        return msgspec.structs.replace(greeks, price=price)

    def _model(self) -> Greeks:
        """The model computation at the underlying's current last price."""
        contract = self.contract
        return black_scholes(
            self.underlying.last, contract.strike, self.years, contract.volatility, contract.right
        )


def computation_message(req_id: int, tick: Tick, quote: object, delayed: bool) -> bytes:
    """The tickOptionComputation that rides along with `tick` of an option line; b"" for anything else."""
    if not isinstance(quote, OptionQuote) or tick not in COMPUTATION_TICKS:
        return b""
    kind = COMPUTATION_TICKS[tick] + (DELAYED_OFFSET if delayed else 0)
    greeks = quote.computation(tick)
    if greeks is None:
        return _not_computed(req_id, kind, _tick_price(tick, quote), quote.underlying.last)
    return tick_option_computation(req_id, kind, greeks)


def tick_option_computation(req_id: int, tick_type: int, greeks: Greeks) -> bytes:
    """tickOptionComputation at server version >= 156 (PRICE_BASED_VOLATILITY): no version field, a
    tickAttrib after the tick type, then 8 values (12 fields with the id)."""
    return frame(
        Out.TICK_OPTION_COMPUTATION,
        req_id,
        tick_type,
        RETURN_BASED,
        greeks.implied_vol,
        greeks.delta,
        greeks.price,
        0.0,  # pvDividend: the model pays no dividends
        greeks.gamma,
        greeks.vega,
        greeks.theta,
        greeks.underlying,
    )


def _not_computed(req_id: int, tick_type: int, price: float, spot: float) -> bytes:
    """A computation for a price no volatility explains (below intrinsic): IB's "not computed" markers."""
    vol, greek = NOT_COMPUTED_VOL, NOT_COMPUTED_GREEK
    return frame(
        Out.TICK_OPTION_COMPUTATION, req_id, tick_type, RETURN_BASED, vol, greek, price, 0.0, greek, greek,
        greek, spot,
    )  # fmt: skip


def _tick_price(tick: Tick, quote: OptionQuote) -> float:
    """The quote's price that a bid/ask/last computation is about."""
    return {Tick.BID: quote.bid, Tick.ASK: quote.ask, Tick.LAST: quote.last}[tick]


def _tick(price: float) -> float:
    """A price rounded to the minimum tick."""
    return round(round(price / MIN_TICK) * MIN_TICK, 2)
