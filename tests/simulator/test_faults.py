"""Fault injection through the in-process API: each fault does to both clients what a real gateway does."""

from collections.abc import Callable
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.helpers import ib_module, wait_until
from tests.simulator.mdsupport import contract as by_conid
from tests.simulator.support import barrier, ib_wait
from tests.simulator.test_market_data import _updates, assert_no_more_ticks

Connect = Callable[..., Any]


def _codes(ib: Any) -> list[int]:
    """Start recording the code of every error/notice `ib` receives."""
    codes: list[int] = []
    ib.errorEvent += lambda _req_id, code, *_: codes.append(code)
    return codes


def _streaming(ib: Any, symbol: str = "AAPL") -> tuple[Any, list]:
    """Subscribe to `symbol` (by conid), wait for its first ticks; return the contract and its update log."""
    contract = by_conid(ib_module(), symbol)
    updates = _updates(ib.reqMktData(contract))
    ib_wait(ib, lambda: len(updates) >= 2, message=f"{symbol} streams")
    return contract, updates


def test_drop_disconnects_every_client_and_they_can_reconnect(
    simulator: Simulator, ib_factory: Connect
) -> None:
    clients = [ib_factory(simulator), ib_factory(simulator)]
    dropped: list[Any] = []
    for ib in clients:
        ib.disconnectedEvent += lambda ib=ib: dropped.append(ib)

    assert simulator.drop_all() == 2
    for ib in clients:
        ib_wait(ib, lambda ib=ib: ib in dropped, message="disconnectedEvent")
        assert not ib.isConnected()
    assert simulator.stats().clients == 0
    ib = clients[0]
    ib.connect("127.0.0.1", simulator.port, clientId=ib.client.clientId, readonly=True, timeout=10)
    assert ib.isConnected()


def test_1101_stops_every_stream_and_a_new_subscription_streams_again(simulator: Simulator, ib: Any) -> None:
    codes = _codes(ib)
    contract, updates = _streaming(ib)

    assert simulator.send_error(1101) == 1
    ib_wait(ib, lambda: 1101 in codes, message="the 1101 notice")
    assert simulator.stats().subscriptions == 0
    assert_no_more_ticks(simulator, ib, updates)

    ib.cancelMktData(contract)  # what an application must do after 1101: subscribe again
    renewed = _updates(ib.reqMktData(contract))
    ib_wait(ib, lambda: len(renewed) >= 2, message="the new subscription streams")


def test_1100_halts_streaming_and_1102_resumes_it_with_an_account_summary(
    simulator: Simulator, ib: Any
) -> None:
    codes = _codes(ib)
    summary: list[object] = []
    ib.accountSummaryEvent += summary.append
    _, updates = _streaming(ib)

    simulator.send_error(1100)
    ib_wait(ib, lambda: 1100 in codes, message="the 1100 notice")
    assert simulator.stats().streaming_halted
    assert_no_more_ticks(simulator, ib, updates)
    assert simulator.stats().subscriptions == 1  # lines are kept through the outage

    simulator.send_error(1102)
    before = len(updates)
    ib_wait(ib, lambda: len(updates) > before + 2, message="streaming resumes after 1102")
    ib_wait(ib, lambda: summary, message="the client's own reqAccountSummary after 1102 is answered")


def test_a_broken_market_data_farm_halts_streaming_until_it_is_ok(simulator: Simulator, ib: Any) -> None:
    codes = _codes(ib)
    _, updates = _streaming(ib)
    simulator.send_error(2103)
    ib_wait(ib, lambda: 2103 in codes)
    assert_no_more_ticks(simulator, ib, updates)
    simulator.send_error(2104)
    before = len(updates)
    ib_wait(ib, lambda: 2104 in codes and len(updates) > before + 2, message="ticks after 2104")


def test_any_error_code_and_text_reaches_every_client(simulator: Simulator, ib_factory: Connect) -> None:
    clients = [ib_factory(simulator), ib_factory(simulator)]
    messages: list[tuple[int, str]] = []
    for ib in clients:
        ib.errorEvent += lambda _req_id, code, text, _contract: messages.append((code, text))
    assert simulator.send_error(10197, "competing live session") == 2
    for ib in clients:
        ib_wait(ib, lambda: len(messages) >= 2)
    assert messages == [(10197, "competing live session")] * 2


def test_raising_the_line_limit_admits_what_was_refused(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect
) -> None:
    sim = simulator_factory(max_lines=1)
    ib = ib_factory(sim)
    codes = _codes(ib)
    _streaming(ib, "AAPL")
    refused = by_conid(ib_module(), "MSFT")
    ib.reqMktData(refused)
    ib_wait(ib, lambda: 101 in codes)

    sim.set_max_lines(2)
    assert sim.stats().max_lines == 2
    ib.cancelMktData(refused)
    _streaming(ib, "MSFT")
    assert sim.stats().subscriptions == 2


def test_lowering_the_line_limit_keeps_held_lines_and_refuses_new_ones(simulator: Simulator, ib: Any) -> None:
    codes = _codes(ib)
    _streaming(ib, "AAPL")
    _streaming(ib, "MSFT")
    simulator.set_max_lines(1)
    ib.reqMktData(by_conid(ib_module(), "IBM"))
    ib_wait(ib, lambda: 101 in codes)
    assert simulator.stats().subscriptions == 2
    with pytest.raises(ValueError, match="negative"):
        simulator.set_max_lines(-1)


def test_a_paused_gateway_answers_nothing_until_resumed(simulator: Simulator, ib_factory: Connect) -> None:
    ib = ib_factory(simulator)
    _, updates = _streaming(ib)
    simulator.pause()
    ticks_sent = simulator.stats().ticks_sent
    asked = simulator.stats().requests.get(49, 0)
    answer = ib.reqCurrentTimeAsync()
    wait_until(lambda: simulator.stats().requests.get(49, 0) > asked, message="the request was received")
    with pytest.raises(TimeoutError):
        ib_factory(simulator, timeout=1)  # accepted, but the handshake is never answered
    cycles = simulator.stats().pump_cycles
    ib_wait(ib, lambda: simulator.stats().pump_cycles >= cycles + 5, message="five pump cycles")
    stats = simulator.stats()
    assert stats.paused and stats.ticks_sent == ticks_sent
    assert not answer.done()

    simulator.resume()
    ib_wait(ib, answer.done, message="the request is answered after resume")
    before = len(updates)
    ib_wait(ib, lambda: len(updates) > before + 2, message="streaming resumes")


def test_a_client_above_the_message_rate_gets_error_100(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect
) -> None:
    sim = simulator_factory(max_msg_rate=10)
    ib = ib_factory(sim)
    codes = _codes(ib)
    ib.client.MaxRequests = 0  # switch off the client's own pacing
    for _ in range(200):
        ib.client.reqCurrentTime()
    ib_wait(ib, lambda: 100 in codes, message="error 100")
    assert sim.stats().pacing_violations >= 1


def test_a_client_pacing_itself_like_ib_insync_gets_no_error_100(simulator: Simulator, ib: Any) -> None:
    for _ in range(100):  # ib_insync sends at most 45 per second: this takes two seconds
        ib.client.reqCurrentTime()
    ib_wait(ib, lambda: simulator.stats().requests.get(49, 0) == 100, message="all 100 requests arrived")
    assert simulator.stats().pacing_violations == 0


def test_place_order_is_counted_and_rejected(simulator: Simulator, ib_factory: Connect) -> None:
    ib = ib_factory(simulator, readonly=False)
    assert simulator.stats().orders == 0
    trade = ib.placeOrder(by_conid(ib_module(), "AAPL"), ib_module().LimitOrder("BUY", 1, 1.0))
    ib_wait(ib, lambda: trade.orderStatus.status == "Cancelled", message="the order is rejected")
    barrier(ib)
    assert simulator.stats().orders == 1
