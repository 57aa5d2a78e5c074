"""Trading hours, the clock and open/closed markets with both clients; frozen data on a closed market."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from possync.simulator import Simulator
from tests.helpers import NEW_YORK, WEDNESDAY_NOON, wait_until
from tests.simulator.mdsupport import CONIDS, DELAYED_TICK_TYPES, Ticks, assert_silent, contract
from tests.simulator.support import ib_wait

Connect = Callable[..., Any]
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=NEW_YORK)
WEDNESDAY_5AM = datetime(2026, 12, 2, 5, 0, tzinfo=NEW_YORK)


def _held_option(sim: Simulator) -> int:
    """The conid of an option the demo portfolio holds."""
    return next(p.conid for p in sim.positions() if p.sec_type == "OPT")


def test_contract_details_carry_a_week_of_trading_and_liquid_hours(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    simulator.set_clock(at=WEDNESDAY_NOON)
    ib = connect(simulator)
    [stock] = ib.reqContractDetails(contract(client, "AAPL"))
    assert stock.timeZoneId == "US/Eastern"
    days = stock.tradingHours.split(";")
    assert days[:4] == [
        "20261202:0400-20261202:2000",
        "20261203:0400-20261203:2000",
        "20261204:0400-20261204:2000",
        "20261205:CLOSED",
    ]
    assert len(days) == 7 and stock.liquidHours.split(";")[0] == "20261202:0930-20261202:1600"
    sessions = stock.liquidSessions()  # the clients' own parser reads the format
    assert len(sessions) == 5 and sessions[0].start == WEDNESDAY_NOON.replace(hour=9, minute=30)
    [option] = ib.reqContractDetails(contract(client, _held_option(simulator)))
    assert option.tradingHours == option.liquidHours
    assert option.tradingHours.startswith("20261202:0930-20261202:1600;")


def test_outside_its_hours_a_market_sends_no_bid_or_ask_and_no_more_ticks(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(hours=True)
    sim.set_clock(at=SATURDAY_NOON)
    ib = connect(sim)
    ticker = ib.reqMktData(contract(client, "AAPL"))
    ticks = Ticks(ticker)
    ib_wait(ib, lambda: ticker.last > 0, message="the values of a closed market")
    assert (ticker.marketDataType, ticker.bid, ticker.ask) == (1, -1, -1)
    assert ticker.close > 0
    assert_silent(sim, ib, ticks)
    assert sim.stats().subscriptions == 1  # the request holds its line while the market is closed


def test_frozen_data_is_the_last_values_once_on_a_closed_market(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(hours=True)
    sim.set_clock(at=SATURDAY_NOON)
    sim.set_entitlements([CONIDS["IBM"]], live=False)
    ib = connect(sim)
    ib.reqMarketDataType(4)
    frozen = ib.reqMktData(contract(client, "AAPL"))  # live permitted: frozen (2)
    delayed_frozen = ib.reqMktData(contract(client, "IBM"))  # delayed only: delayed frozen (4)
    ticks = Ticks(delayed_frozen)
    ib_wait(ib, lambda: frozen.bid > 0 and delayed_frozen.bid > 0, message="the last bids")
    assert (frozen.marketDataType, delayed_frozen.marketDataType) == (2, 4)
    assert min(frozen.ask, frozen.last, delayed_frozen.ask, delayed_frozen.last) > 0
    assert set(ticks.types) <= set(DELAYED_TICK_TYPES)
    assert_silent(sim, ib, ticks)


def test_a_stream_stops_when_its_market_closes_and_resumes_when_it_opens(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    ib = connect(simulator)
    ib.reqMarketDataType(2)
    frozen_ok = ib.reqMktData(contract(client, "AAPL"))
    ib.reqMarketDataType(1)
    live_only = ib.reqMktData(contract(client, "MSFT"))
    frozen_ticks, live_ticks = Ticks(frozen_ok), Ticks(live_only)
    ib_wait(ib, lambda: frozen_ticks.updates > 2 and live_ticks.updates > 2, message="both stream")
    assert frozen_ok.marketDataType == 1  # frozen data is asked for, live is served while open

    simulator.set_market_open(False)
    ib_wait(ib, lambda: frozen_ok.marketDataType == 2, message="the frozen type at the close")
    assert_silent(simulator, ib, live_ticks)
    assert live_only.marketDataType == 1 and frozen_ok.bid > 0

    simulator.set_market_open(True)
    ib_wait(ib, lambda: frozen_ok.marketDataType == 1, message="live again at the open")
    before = live_ticks.updates
    ib_wait(ib, lambda: live_ticks.updates > before + 2, message="ticks resume")


def test_before_the_open_stocks_trade_in_extended_hours_and_options_do_not(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(hours=True, clock_offset_s=(WEDNESDAY_5AM - datetime.now(UTC)).total_seconds())
    ib = connect(sim)
    stock = Ticks(ib.reqMktData(contract(client, "AAPL")))
    option = ib.reqMktData(contract(client, _held_option(sim)))
    ib_wait(ib, lambda: stock.updates > 3 and option.last > 0, message="the stock streams")
    assert option.bid == -1
    assert_silent(sim, ib, Ticks(option))


def test_one_contract_can_be_closed_while_the_others_follow_the_mode(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    view = simulator.set_market_open(False, [CONIDS["AAPL"]])
    assert (view.mode, view.conids) == ("open", {CONIDS["AAPL"]: "closed"})
    ib = connect(simulator)
    closed = ib.reqMktData(contract(client, "AAPL"))
    open_ = Ticks(ib.reqMktData(contract(client, "MSFT")))
    ib_wait(ib, lambda: open_.updates > 3 and closed.last > 0, message="MSFT streams")
    assert closed.bid == -1
    view = simulator.set_market_open(None, [CONIDS["MSFT"]])  # MSFT follows its hours
    assert view.conids == {CONIDS["AAPL"]: "closed", CONIDS["MSFT"]: "hours"}
    assert simulator.set_market_open(True).conids == {}  # a mode for all drops the per-conid ones


def test_the_clock_moves_current_time_and_the_handshake(simulator: Simulator, connect: Connect) -> None:
    view = simulator.set_clock(offset_s=3 * 86400)
    assert abs(view.offset_s - 3 * 86400) < 1
    ib = connect(simulator)
    expected = datetime.now(UTC) + timedelta(days=3)
    assert abs((ib.reqCurrentTime() - expected).total_seconds()) < 60
    wait_until(lambda: simulator.market().offset_s == view.offset_s, message="the offset persists")
