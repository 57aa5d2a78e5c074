"""Option computations (tickOptionComputation) on streamed option lines, with ib_insync and ib_async."""

import random
from datetime import date
from typing import Any

import pytest

from possync.simulator import DemoPosition, Simulator
from possync.simulator.greeks import black_scholes, implied_volatility, volatility, years_to_expiry
from possync.simulator.instruments import option, stocks
from possync.simulator.options import COMPUTATION_TICKS, OptionQuote, computation_message
from possync.simulator.protocol import Tick
from possync.simulator.quotes import Quote
from tests.simulator.support import RawClient, ib_wait

pytestmark = pytest.mark.timeout(30)

SEED = 1
AS_OF = date(2026, 12, 2)
_GREEKS = ("modelGreeks", "bidGreeks", "askGreeks", "lastGreeks")


def _near_the_money(sim: Simulator) -> DemoPosition:
    """The held option most sensitive to volatility (every quote of it has an implied volatility)."""
    options = [p for p in sim.positions() if p.sec_type == "OPT"]
    return max(options, key=lambda p: sim.option_model(p.conid).vega)


def _expected(option: DemoPosition, spot: float, vol: float) -> Any:
    """The model's computation for `option` at `spot` and `vol`."""
    years = years_to_expiry(option.expiry, AS_OF)
    return black_scholes(spot, option.strike, years, vol, option.right)


def _stream(ib: Any, client: Any, conid: int) -> Any:
    """Subscribe to a contract by conid and wait until every kind of option computation has arrived."""
    ticker = ib.reqMktData(client.Contract(conId=conid, exchange="SMART"))
    ib_wait(ib, lambda: all(getattr(ticker, g) for g in _GREEKS), message="bid/ask/last/model greeks")
    return ticker


@pytest.fixture
def sim(simulator_factory: Any) -> Simulator:
    """A simulator with a fixed date, so the test can compute the model's time to expiry."""
    return simulator_factory(seed=SEED, as_of=AS_OF)


def test_model_greeks_are_the_models_at_the_contracts_volatility(
    sim: Simulator, ib_factory: Any, client: Any
) -> None:
    ib = ib_factory(sim)
    option = _near_the_money(sim)
    model = _stream(ib, client, option.conid).modelGreeks
    expected = _expected(option, model.undPrice, volatility(SEED, option.conid))
    assert model.impliedVol == pytest.approx(expected.implied_vol)
    assert model.optPrice == pytest.approx(expected.price, rel=1e-9)
    assert (model.delta, model.gamma) == pytest.approx((expected.delta, expected.gamma), rel=1e-9)
    assert (model.vega, model.theta) == pytest.approx((expected.vega, expected.theta), rel=1e-9)
    assert model.pvDividend == 0.0 and model.tickAttrib == 0


def test_bid_ask_and_last_greeks_are_at_the_implied_volatility_of_their_price(
    sim: Simulator, ib_factory: Any, client: Any
) -> None:
    ib = ib_factory(sim)
    option = _near_the_money(sim)
    ticker = _stream(ib, client, option.conid)
    years = years_to_expiry(option.expiry, AS_OF)
    for name in ("bidGreeks", "askGreeks", "lastGreeks"):
        quoted = getattr(ticker, name)
        vol = implied_volatility(quoted.optPrice, quoted.undPrice, option.strike, years, option.right)
        assert quoted.impliedVol == pytest.approx(vol, abs=1e-6), name
        assert quoted.delta == pytest.approx(_expected(option, quoted.undPrice, vol).delta, abs=1e-6)
    assert ticker.bidGreeks.impliedVol < ticker.askGreeks.impliedVol  # a wider price, a higher volatility


def test_an_options_price_moves_with_its_underlying(sim: Simulator, ib_factory: Any, client: Any) -> None:
    ib = ib_factory(sim)
    option = _near_the_money(sim)
    ticker = _stream(ib, client, option.conid)
    seen: dict[float, float] = {}

    def record(_ticker: Any) -> None:
        seen[ticker.modelGreeks.undPrice] = ticker.modelGreeks.optPrice

    ticker.updateEvent += record
    ib_wait(ib, lambda: len(seen) >= 4, message="four different underlying prices")
    vol = volatility(SEED, option.conid)
    for spot, price in seen.items():
        assert price == pytest.approx(_expected(option, spot, vol).price, rel=1e-9)
    by_spot = [seen[spot] for spot in sorted(seen)]
    assert by_spot == sorted(by_spot, reverse=option.right == "P")  # calls rise with it, puts fall
    mid = (ticker.bid + ticker.ask) / 2
    assert mid == pytest.approx(ticker.modelGreeks.optPrice, rel=0.02)  # the quote follows the model


def test_a_stock_line_gets_no_option_computation(simulator: Simulator, ib: Any, client: Any) -> None:
    ticker = ib.reqMktData(client.Contract(conId=265598, exchange="SMART"))  # AAPL
    updates: list[Any] = []
    ticker.updateEvent += updates.append
    ib_wait(ib, lambda: len(updates) >= 8, message="eight updates of the stock line")
    assert not any(getattr(ticker, g) for g in _GREEKS)


def test_the_wire_layout_at_server_version_176(sim: Simulator) -> None:
    option = _near_the_money(sim)
    raw = RawClient(sim.port)
    try:
        raw.start(client_id=77)
        raw.subscribe(req_id=5, conid=option.conid)
        kinds = set()
        while len(kinds) < 4:
            fields = raw.read_until(lambda f: f[0] == "21")
            assert len(fields) == 12  # id, reqId, tickType, tickAttrib, then 8 values: no version field
            assert fields[1] == "5" and fields[3] == "0"
            kinds.add(int(fields[2]))
        assert kinds == {10, 11, 12, 13}
    finally:
        raw.close()


def _deep_in_the_money_quote() -> OptionQuote:
    """A quote whose bid is below the option's lower bound: no volatility explains it."""
    stock = next(c for c in stocks() if c.symbol == "AAPL")
    call = option(stock, date(2027, 1, 15), 100.0, "C", conid=1, as_of=AS_OF, volatility=0.2)
    return OptionQuote(
        call, Quote(stock, random.Random(1)), years_to_expiry(call.expiry, AS_OF), random.Random(2)
    )


def _fields(message: bytes) -> list[str]:
    return message[4:-1].decode().split("\0")


def test_a_price_no_volatility_explains_gets_ibs_not_computed_markers() -> None:
    quote = _deep_in_the_money_quote()
    fields = _fields(computation_message(9, Tick.BID, quote, delayed=False))
    assert fields[:4] == ["21", "9", "10", "0"]
    assert [float(f) for f in fields[4:]] == [-1, -2, quote.bid, 0, -2, -2, -2, quote.underlying.last]


def test_a_delayed_line_gets_the_delayed_computation_types() -> None:
    quote = _deep_in_the_money_quote()
    kinds = [_fields(computation_message(9, t, quote, delayed=True))[2] for t in COMPUTATION_TICKS]
    assert kinds == ["80", "81", "82", "83"]
    assert computation_message(9, Tick.CLOSE, quote, delayed=False) == b""
