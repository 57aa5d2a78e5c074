"""One contract's simulated market: a bid/ask/last random walk with sizes and a running volume."""

import math
import random

from possync.simulator.instruments import DemoContract

_STEP_SIGMA = 0.0005
"""Relative standard deviation of one price step."""
_MIN_TICK = 0.01


class Quote:
    """The live market of one contract; every subscriber to the contract sees the same quote."""

    def __init__(self, contract: DemoContract, rng: random.Random) -> None:
        self._rng = rng
        self._lot = 100 if contract.sec_type == "STK" else 1
        self.close = max(contract.price, _MIN_TICK)
        self.last = self.close
        self.volume = 0
        self.bid = self.ask = self.last
        self.bid_size = self.ask_size = self.last_size = 0
        self.step()

    def step(self) -> None:
        """Move the price one random step and draw new sizes; the quote stays positive and uncrossed."""
        rng = self._rng
        mid = max(_tick(self.last * math.exp(rng.gauss(0.0, _STEP_SIGMA))), _MIN_TICK)
        half_spread = max(_tick(mid * 0.0002), _MIN_TICK)
        self.bid = max(_tick(mid - half_spread), _MIN_TICK)
        self.ask = _tick(self.bid + 2 * half_spread)
        self.last = rng.choice((self.bid, self.ask, mid))
        self.bid_size = rng.randint(1, 20) * self._lot
        self.ask_size = rng.randint(1, 20) * self._lot
        self.last_size = rng.randint(1, 5) * self._lot
        self.volume += self.last_size


def _tick(price: float) -> float:
    """A price rounded to the minimum tick."""
    return round(round(price / _MIN_TICK) * _MIN_TICK, 2)
