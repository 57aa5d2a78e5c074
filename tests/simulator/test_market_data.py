"""Market data through both clients: streaming, cancel, snapshots, the line limit (101) and refusals.

Contracts are given by conid (`mdsupport.contract`), as possync subscribes them: ib_async keys its tickers
by conId and refuses a contract without one.
"""

import itertools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.conftest import next_client_id
from tests.helpers import wait_until
from tests.simulator.mdsupport import CONIDS, contract
from tests.simulator.support import RawClient, barrier, ib_wait

Connect = Callable[..., Any]


def _errors(ib: Any) -> list[tuple[int, Any]]:
    """Start recording (code, contract) of every error `ib` receives."""
    seen: list[tuple[int, Any]] = []
    ib.errorEvent += lambda _req_id, code, _text, contract: seen.append((code, contract))
    return seen


def _updates(ticker: Any) -> list[Any]:
    """Start recording every update of `ticker` (one per batch of its ticks that arrived)."""
    seen: list[Any] = []
    ticker.updateEvent += seen.append
    return seen


def assert_no_more_ticks(sim: Simulator, ib: Any, updates: list[Any]) -> None:
    """After the simulator's pump has run 5 more cycles, not one more tick reached `updates`' ticker."""
    barrier(ib)
    before = len(updates)
    cycles = sim.stats().pump_cycles
    wait_until(lambda: sim.stats().pump_cycles >= cycles + 5, message="five more pump cycles")
    barrier(ib)
    assert len(updates) == before


def test_ticks_stream_until_cancelled(simulator: Simulator, ib: Any, client: ModuleType) -> None:
    aapl = contract(client, "AAPL")
    ticker = ib.reqMktData(aapl)
    updates = _updates(ticker)
    ib_wait(ib, lambda: len(updates) >= 10, message="ten batches of ticks")
    assert min(ticker.bid, ticker.ask, ticker.last, ticker.close, ticker.volume) > 0
    assert ticker.marketDataType == 1
    assert simulator.stats().subscriptions == 1

    ib.cancelMktData(aapl)
    wait_until(lambda: simulator.stats().subscriptions == 0, message="the line is released")
    assert_no_more_ticks(simulator, ib, updates)


def test_past_the_line_limit_101_refuses_and_a_line_freed_by_cancel_is_reusable(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect, client: ModuleType
) -> None:
    sim = simulator_factory(max_lines=2)
    ib = ib_factory(sim)
    errors = _errors(ib)
    first, second, third = (contract(client, s) for s in ("AAPL", "MSFT", "IBM"))
    ib.reqMktData(first)
    ib.reqMktData(second)
    refused = ib.reqMktData(third)
    ib_wait(ib, lambda: errors, message="error 101")
    assert errors == [(101, third)]
    stats = sim.stats()
    assert (stats.subscriptions, stats.refused_101) == (2, 1)
    barrier(ib)
    assert refused.last != refused.last  # NaN: the refused subscription got no tick

    ib.cancelMktData(first)
    wait_until(lambda: sim.stats().subscriptions == 1, message="the cancelled line is free")
    ib.cancelMktData(third)  # both clients keep a refused ticker registered: the application cancels it
    again = ib.reqMktData(third)
    ib_wait(ib, lambda: again.last > 0, message="the freed line streams")
    assert sim.stats().subscriptions == 2


def test_a_snapshot_returns_prices_then_frees_its_line(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    [ticker] = ib.reqTickers(contract(client, "MSFT"))
    assert min(ticker.bid, ticker.ask, ticker.last, ticker.close) > 0
    assert simulator.stats().subscriptions == 0


def test_a_snapshot_holds_a_line_until_it_ends_or_is_cancelled(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect, client: ModuleType
) -> None:
    sim = simulator_factory(max_lines=1, snapshot_hold=30)
    ib = ib_factory(sim)
    errors = _errors(ib)
    snapshot_contract = contract(client, "MSFT")
    snapshot = ib.reqMktData(snapshot_contract, snapshot=True)
    ib_wait(ib, lambda: snapshot.last > 0, message="the snapshot's prices")
    assert sim.stats().subscriptions == 1
    ib.reqMktData(contract(client, "AAPL"))
    ib_wait(ib, lambda: errors, message="101 while the snapshot holds the only line")
    assert [code for code, _ in errors] == [101]

    ib.cancelMktData(snapshot_contract)
    wait_until(lambda: sim.stats().subscriptions == 0, message="a cancelled snapshot frees its line")


def test_market_data_without_an_exchange_gets_321_like_the_real_gateway(
    simulator: Simulator, ib: Any
) -> None:
    errors = _errors(ib)
    option = next(p.contract for p in ib.positions() if p.contract.secType == "OPT")
    assert option.exchange == ""  # positions carry no exchange for options
    ib.reqMktData(option)
    ib_wait(ib, lambda: errors, message="error 321")
    assert [code for code, _ in errors] == [321]
    ib.cancelMktData(option)

    option.exchange = "SMART"
    ticker = ib.reqMktData(option)
    ib_wait(ib, lambda: ticker.last > 0, message="the option streams once it names an exchange")


def test_market_data_for_an_unknown_contract_gets_200(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    errors = _errors(ib)
    unknown = 1
    assert unknown not in CONIDS.values() and unknown not in {p.conid for p in simulator.positions()}
    ib.reqMktData(contract(client, unknown))  # by conid: ib_async subscribes nothing without one
    ib_wait(ib, lambda: errors, message="error 200")
    assert [code for code, _ in errors] == [200]
    assert simulator.stats().subscriptions == 0

    raw = RawClient(simulator.port)  # an unknown description, as ib_insync sends Stock("NOPE", "SMART")
    raw.start(next_client_id())
    nope = (0, "NOPE", "STK", "", 0.0, "", "", "SMART", "", "USD", "", "")
    raw.send(1, 11, 7, *nope, False, "", False, False, "")
    error = raw.read_until(lambda fields: fields[0] == "4" and fields[2] != "-1")
    assert error[2:4] == ["7", "200"]
    raw.close()
    assert simulator.stats().subscriptions == 0


def test_delayed_market_data_uses_the_delayed_tick_types(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    simulator.set_entitlements([8314], live=False)  # IBM: delayed only where live is not permitted
    ib.reqMarketDataType(3)
    ticker = ib.reqMktData(contract(client, "IBM"))
    ib_wait(ib, lambda: min(ticker.bid, ticker.ask, ticker.last, ticker.volume) > 0, message="delayed ticks")
    assert ticker.marketDataType == 3


def test_two_clients_stream_the_same_contract_each_on_its_own_line(
    simulator: Simulator, ib_factory: Connect, client: ModuleType
) -> None:
    tickers = []
    for ib in (ib_factory(simulator), ib_factory(simulator)):
        tickers.append((ib, ib.reqMktData(contract(client, "SPY"))))
    for ib, ticker in tickers:
        ib_wait(ib, lambda t=ticker: t.last > 0)
    assert simulator.stats().subscriptions == 2


def test_a_reqid_that_already_holds_a_line_gets_322(simulator: Simulator) -> None:
    client = RawClient(simulator.port)
    client.start(next_client_id())
    client.subscribe(req_id=5, conid=265598)
    client.subscribe(req_id=5, conid=272093)
    error = client.read_until(lambda fields: fields[0] == "4" and fields[2] != "-1")
    assert error[2:4] == ["5", "322"]
    assert simulator.stats().subscriptions == 1
    client.close()


def test_the_send_hook_sees_every_tick_with_its_price_and_is_off_when_unset(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    sent: list[tuple[float, list[tuple[int, int, int, float | None]]]] = []
    simulator.set_send_hook(lambda sent_at, ticks: sent.append((sent_at, ticks)))
    ib.reqMktData(contract(client, "AAPL"))
    ib_wait(ib, lambda: len(sent) >= 10, message="ten writes of ticks")
    assert {conid for _, ticks in sent for _, conid, _, _ in ticks} == {265598}  # AAPL's conid
    opening = [(kind, price) for _, _, kind, price in sent[0][1]]
    assert [kind for kind, _ in opening] == [1, 2, 4, 9, 8]  # bid, ask, last, close, volume
    assert all(price for kind, price in opening if kind != 8) and opening[-1][1] is None
    times = [sent_at for sent_at, _ in sent]
    assert times == sorted(times)

    simulator.set_send_hook(None)
    written = len(sent)
    assert_no_more_ticks_hooked(simulator, lambda: len(sent) == written)


def assert_no_more_ticks_hooked(sim: Simulator, unchanged: Callable[[], bool]) -> None:
    """Five more pump cycles run and `unchanged` still holds."""
    cycles = sim.stats().pump_cycles
    wait_until(lambda: sim.stats().pump_cycles >= cycles + 5, message="five more pump cycles")
    assert unchanged()


def test_the_tick_rate_can_be_changed_while_running(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="tick_hz=0"):
        simulator.set_tick_hz(0)
    simulator.set_tick_hz(200.0)
    cycles = simulator.stats().pump_cycles
    # 100 cycles: 0.5 s at the new rate, 5 s at the test simulator's own 20/s
    wait_until(lambda: simulator.stats().pump_cycles >= cycles + 100, timeout=2.5, message="200 cycles/s")


def test_tick_slots_spread_each_cycle_over_evenly_spaced_writes(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect, client: ModuleType
) -> None:
    sim = simulator_factory(tick_slots=2)
    ib = ib_factory(sim)
    sent: list[tuple[float, list[tuple[int, int, int, float | None]]]] = []
    for symbol in ("AAPL", "MSFT"):
        ib.reqMktData(contract(client, symbol))
    ib_wait(ib, lambda: sim.stats().subscriptions == 2, message="two lines")
    sim.set_send_hook(lambda sent_at, ticks: sent.append((sent_at, ticks)))
    ib_wait(ib, lambda: len(sent) >= 8, message="eight writes of ticks")
    sim.set_send_hook(None)
    assert all(len(ticks) == 1 for _, ticks in sent)  # one subscription per write
    conids = [ticks[0][1] for _, ticks in sent[:8]]
    assert all(a != b for a, b in itertools.pairwise(conids))  # the two slots take turns
