"""Market data permissions with both clients: live, delayed (10167), refused (354, 10168), partial (10090)."""

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

from possync.simulator import Simulator, SimulatorConfig
from possync.simulator.config import DEMO_NO_LIVE_FRACTION
from tests.conftest import next_client_id
from tests.simulator.mdsupport import CONIDS, DELAYED_TICK_TYPES, Errors, Ticks, contract, req_id_of
from tests.simulator.support import RawClient, barrier, ib_wait

Connect = Callable[..., Any]


def test_a_permitted_contract_streams_live_even_to_a_client_asking_for_delayed(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    ib = connect(simulator)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(contract(client, "AAPL"))
    ticks = Ticks(ticker)
    ib_wait(ib, lambda: ticks.updates >= 3, message="live ticks")
    assert ticker.marketDataType == 1  # live wins: a delayed request is ignored where live is permitted
    assert ticks.types and max(ticks.types) < 66


def test_without_live_permission_type_1_gets_354_and_the_line_stays_free(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(max_lines=1)
    sim.set_entitlements([CONIDS["AAPL"]], live=False)
    ib = connect(sim)
    errors = Errors(ib)
    refused = ib.reqMktData(contract(client, "AAPL"))
    ib_wait(ib, lambda: errors.codes(), message="error 354")
    [(req_id, code, text)] = [e for e in errors.seen if e[0] != -1]
    assert (req_id, code) == (req_id_of(ib, refused), 354)
    assert (
        text
        == "Requested market data is not subscribed.Delayed market data is available.AAPL NASDAQ.NMS/TOP/ALL"
    )
    barrier(ib)
    assert math.isnan(refused.last)
    stats = sim.stats()
    assert (stats.subscriptions, stats.refusals) == (0, {354: 1})
    streaming = ib.reqMktData(contract(client, "MSFT"))  # the only line is free
    ib_wait(ib, lambda: streaming.last > 0, message="MSFT streams on the free line")


def test_without_live_permission_type_3_gets_10167_then_delayed_ticks_on_a_line(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(max_lines=1)
    sim.set_entitlements([CONIDS["IBM"], CONIDS["MSFT"]], live=False)
    ib = connect(sim)
    errors = Errors(ib)
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(contract(client, "IBM"))
    ticks = Ticks(ticker)
    ib_wait(ib, lambda: ticks.updates >= 4 and ticker.volume > 0, message="delayed ticks")
    assert ticker.marketDataType == 3
    assert set(ticks.types) <= set(DELAYED_TICK_TYPES) and {66, 67, 68, 75} <= set(ticks.types)
    assert min(ticker.bid, ticker.ask, ticker.last, ticker.close) > 0
    assert errors.codes() == [10167]
    ib.reqMktData(contract(client, "MSFT"))  # a delayed subscription takes a line: the second gets 101
    ib_wait(ib, lambda: 101 in errors.codes(), message="101 past the line limit")
    stats = sim.stats()
    assert (stats.subscriptions, stats.data_warnings, stats.refusals) == (1, {10167: 1}, {101: 1})


def test_without_delayed_data_type_3_gets_10168_and_354_says_delayed_is_not_available(
    simulator_factory: Callable[..., Simulator], client: ModuleType, connect: Connect
) -> None:
    sim = simulator_factory(delayed_data=False, no_live_sec_types=("STK",))
    ib = connect(sim)
    errors = Errors(ib)
    ib.reqMktData(contract(client, "SPY"))
    ib_wait(ib, lambda: errors.codes(), message="error 354")
    assert errors.seen[-1][1:] == (
        354,
        "Requested market data is not subscribed.Delayed market data is not available.SPY ARCA/TOP/ALL",
    )
    ib.reqMarketDataType(3)
    ib.reqMktData(contract(client, "IBM"))
    ib_wait(ib, lambda: len(errors.codes()) == 2, message="error 10168")
    assert errors.seen[-1][1:] == (
        10168,
        "Requested market data is not subscribed. Delayed market data is not enabled.",
    )
    stats = sim.stats()
    assert (stats.subscriptions, stats.refusals) == (0, {354: 1, 10168: 1})


def test_an_option_whose_underlying_is_not_live_gets_10090_and_streams_live(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    held = next(p for p in simulator.positions() if p.sec_type == "OPT")
    underlying = CONIDS[held.symbol]
    simulator.set_entitlements([underlying], live=False)
    ib = connect(simulator)
    errors = Errors(ib)
    ticker = ib.reqMktData(contract(client, held.conid))
    ib_wait(ib, lambda: ticker.last > 0 and errors.codes(), message="10090, then live ticks")
    assert errors.codes() == [10090]
    assert errors.seen[-1][2].startswith(
        "Part of requested market data is not subscribed. Subscription-independent"
    )
    assert ticker.marketDataType == 1
    assert simulator.stats().data_warnings == {10090: 1}


def test_snapshots_follow_the_same_rules(simulator: Simulator, client: ModuleType, connect: Connect) -> None:
    simulator.set_entitlements([CONIDS["NVDA"]], live=False)
    ib = connect(simulator)
    errors = Errors(ib)
    [refused] = ib.reqTickers(contract(client, "NVDA"))
    assert math.isnan(refused.last) and errors.codes() == [354]
    ib.reqMarketDataType(4)
    [delayed] = ib.reqTickers(contract(client, "NVDA"))
    assert delayed.marketDataType == 3  # delayed frozen asks for delayed data while the market is open
    assert min(delayed.bid, delayed.ask, delayed.last) > 0
    assert errors.codes() == [354, 10167]
    stats = simulator.stats()
    assert (stats.subscriptions, stats.snapshots) == (0, 2)


def test_delayed_ticks_come_after_10167_and_the_market_data_type_on_the_wire(simulator: Simulator) -> None:
    simulator.set_entitlements([CONIDS["AAPL"]], live=False)
    raw = RawClient(simulator.port)
    raw.start(next_client_id())
    raw.send(59, 1, 3)  # reqMarketDataType(3)
    raw.subscribe(req_id=7, conid=CONIDS["AAPL"])
    warning = raw.read_until(lambda fields: fields[0] == "4" and fields[2] == "7")
    assert warning == ["4", "2", "7", "10167", warning[4], ""]
    assert raw.read() == ["58", "1", "7", "3"]
    first_tick = raw.read()
    assert first_tick[:4] == ["1", "6", "7", "66"] and len(first_tick) == 7
    raw.close()


def test_the_config_defaults_withdraw_live_permission_by_sec_type_and_a_seeded_fraction() -> None:
    def no_live(seed: int, **settings: Any) -> set[int]:
        sim = Simulator(SimulatorConfig(positions=30, seed=seed, **settings))
        return {e.conid for e in sim.entitlements() if not e.live}

    options = {
        e.conid for e in Simulator(SimulatorConfig(positions=30)).entitlements() if e.sec_type == "OPT"
    }
    assert no_live(1, no_live_sec_types=("OPT",)) == options
    drawn = no_live(7, no_live_fraction=0.3)
    assert drawn == no_live(7, no_live_fraction=0.3) != no_live(8, no_live_fraction=0.3)
    everything = len(Simulator(SimulatorConfig(positions=30, seed=7)).entitlements())
    assert 0.15 * everything < len(drawn) < 0.45 * everything
    demo = Simulator(SimulatorConfig.demo(positions=300, seed=7))
    assert demo.config.no_live_fraction == DEMO_NO_LIVE_FRACTION
    assert all(e.delayed for e in demo.entitlements()) and any(not e.live for e in demo.entitlements())
