"""Helpers for the market-data tests that run with either client (ib_insync or ib_async)."""

from types import ModuleType
from typing import Any

from possync.simulator import Simulator
from possync.simulator.instruments import stocks
from tests.helpers import wait_until
from tests.simulator.support import barrier

CONIDS = {stock.symbol: stock.conid for stock in stocks()}
"""The demo universe's stock conids by symbol (ib_async only subscribes contracts with a conId)."""
DELAYED_TICK_TYPES = range(66, 77)


def contract(client: ModuleType, symbol_or_conid: str | int) -> Any:
    """A `client.Contract` on SMART given by conid (or by the symbol of a demo stock)."""
    conid = CONIDS[symbol_or_conid] if isinstance(symbol_or_conid, str) else symbol_or_conid
    return client.Contract(conId=conid, exchange="SMART")


class Errors:
    """Every error/notice one client receives, as (reqId, code, text)."""

    def __init__(self, ib: Any) -> None:
        self.seen: list[tuple[int, int, str]] = []
        ib.errorEvent += self._error

    def _error(self, req_id: int, code: int, text: str, _contract: Any) -> None:
        self.seen.append((req_id, code, text))

    def codes(self, req_id: int | None = None) -> list[int]:
        """The codes received (for one reqId when given), farm notices left out."""
        return [code for rid, code, _ in self.seen if (req_id is None or rid == req_id) and rid != -1]


class Ticks:
    """Every update of one ticker and the tick types it carried."""

    def __init__(self, ticker: Any) -> None:
        self.updates = 0
        self.types: list[int] = []
        ticker.updateEvent += self._update

    def _update(self, ticker: Any) -> None:
        self.updates += 1
        self.types += [tick.tickType for tick in ticker.ticks]


def req_id_of(ib: Any, ticker: Any) -> int:
    """The reqId the client used for a ticker's subscription."""
    return next(rid for rid, t in ib.wrapper.reqId2Ticker.items() if t is ticker)


def assert_silent(sim: Simulator, ib: Any, ticks: Ticks, cycles: int = 5) -> None:
    """After `cycles` more pump cycles, not one more update reached the ticker."""
    barrier(ib)
    before = ticks.updates
    start = sim.stats().pump_cycles
    wait_until(lambda: sim.stats().pump_cycles >= start + cycles, message=f"{cycles} more pump cycles")
    barrier(ib)
    assert ticks.updates == before
