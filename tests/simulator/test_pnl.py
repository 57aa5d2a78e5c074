"""reqPnLSingle / reqPnL and updatePortfolio: one valuation of every position, with ib_insync and ib_async."""

import math
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.helpers import holds_throughout, wait_until
from tests.simulator.support import RawClient, admin, barrier, ib_wait

pytestmark = pytest.mark.timeout(30)

DOUBLE_MAX = 1.7976931348623157e308
"""What IB sends as realized P&L of a position not traded today (the "unset" value)."""


def _held(sim: Simulator, sec_type: str, at_least: float = 1) -> Any:
    """The first open position of a security type, of at least `at_least` (either side)."""
    return next(p for p in sim.positions() if p.sec_type == sec_type and abs(p.position) >= at_least)


def _valuation(sim: Simulator, conid: int) -> Any:
    """The simulator's own valuation of a held conid now."""
    return next(v for v in sim.valuations() if v.conid == conid)


def _pnl_single(ib: Any, sim: Simulator, conid: int) -> Any:
    """reqPnLSingle for a conid of the simulator's first account; wait for its first answer."""
    pnl = ib.reqPnLSingle(sim.accounts[0], "", conid)
    ib_wait(ib, lambda: not math.isnan(pnl.value), message=f"pnlSingle for {conid}")
    return pnl


@pytest.mark.parametrize("sec_type", ["STK", "OPT"])
def test_pnl_single_agrees_with_the_portfolio_item_of_the_same_position(
    simulator: Simulator, ib: Any, sec_type: str
) -> None:
    held = _held(simulator, sec_type)
    ib.reqAccountUpdates(simulator.accounts[0])
    item = next(i for i in ib.portfolio() if i.contract.conId == held.conid)
    pnl = _pnl_single(ib, simulator, held.conid)
    multiplier = float(item.contract.multiplier or 1)

    assert pnl.position == item.position == held.position
    assert pnl.value == item.marketValue
    assert pnl.value == pytest.approx(item.position * item.marketPrice * multiplier, abs=0.01)
    assert pnl.unrealizedPnL == item.unrealizedPNL
    assert pnl.unrealizedPnL == pytest.approx(pnl.value - item.position * item.averageCost, abs=0.01)
    assert pnl.realizedPnL == DOUBLE_MAX and item.realizedPNL == 0.0  # not traded today
    assert pnl.dailyPnL == 0.0  # nothing streamed: every mark is still the day's open
    if sec_type == "OPT":  # IB's avgCost of an option is per contract: the premium x the multiplier
        assert 50 < item.averageCost / item.marketPrice < 150


def test_daily_pnl_is_the_move_since_the_days_open(simulator: Simulator, ib: Any, client: Any) -> None:
    held = _held(simulator, "STK")
    ticker = ib.reqMktData(client.Contract(conId=held.conid, exchange="SMART"))
    ib_wait(ib, lambda: ticker.last != ticker.close and ticker.close > 0, message="the price moves")
    ib.cancelMktData(ticker.contract)
    wait_until(lambda: simulator.stats().subscriptions == 0, message="the line is released")

    pnl = _pnl_single(ib, simulator, held.conid)
    mark = _valuation(simulator, held.conid).price
    assert pnl.dailyPnL == pytest.approx(held.position * (mark - ticker.close), abs=0.01)
    assert pnl.value == pytest.approx(held.position * mark, abs=0.01)


def test_pnl_single_is_sent_each_interval_until_cancelled(simulator_factory: Any, ib_factory: Any) -> None:
    sim = simulator_factory(pnl_interval=0.05)
    ib = ib_factory(sim)
    held = _held(sim, "OPT")
    answers: list[Any] = []
    ib.pnlSingleEvent += answers.append
    ib.reqPnLSingle(sim.accounts[0], "", held.conid)
    ib_wait(ib, lambda: len(answers) >= 5, message="five answers")
    assert sim.stats().pnl_single_subscriptions == 1

    ib.cancelPnLSingle(sim.accounts[0], "", held.conid)
    wait_until(lambda: sim.stats().pnl_single_subscriptions == 0, message="the subscription is gone")


def test_cancel_pnl_single_stops_the_messages_on_the_wire(simulator_factory: Any) -> None:
    sim = simulator_factory(pnl_interval=0.05)
    held = _held(sim, "STK")
    raw = RawClient(sim.port)
    try:
        raw.start(client_id=91)
        raw.send(94, 7, sim.accounts[0], "", held.conid)
        for _ in range(3):
            fields = raw.read_until(lambda f: f[0] == "95")
            assert len(fields) == 7 and fields[1] == "7" and float(fields[2]) == held.position
        raw.send(95, 7)
        raw.send(49, 1)  # a round trip: every pnlSingle sent before the cancel arrives before currentTime
        raw.read_until(lambda f: f[0] == "49")
        raw.sock.settimeout(0.5)  # ten intervals
        with pytest.raises(TimeoutError):
            raw.read()
    finally:
        raw.close()


def test_no_answer_for_a_conid_the_account_never_held_until_it_does(
    simulator_factory: Any, ib_factory: Any
) -> None:
    sim = simulator_factory(pnl_interval=0.05)
    ib = ib_factory(sim)
    held = {p.conid for p in sim.positions()}
    conid = next(c for c in (8314, 265598, 272093, 756733) if c not in held)
    pnl = ib.reqPnLSingle(sim.accounts[0], "", conid)
    holds_throughout(lambda: barrier(ib) is None and math.isnan(pnl.value), 0.5, "no answer (IB's docs)")
    assert sim.stats().pnl_single_subscriptions == 1

    sim.set_position(conid, 10)
    ib_wait(ib, lambda: pnl.position == 10, message="answers once the account holds it")
    assert pnl.realizedPnL == 0.0  # traded today, nothing closed


def test_an_account_the_login_lacks_gets_error_321(simulator: Simulator, ib: Any) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda _req_id, code, *_: codes.append(code)
    ib.reqPnLSingle("DU999999", "", _held(simulator, "STK").conid)
    ib.reqPnL("All")  # not an advisor login: "All" is no account of it either
    ib_wait(ib, lambda: len(codes) >= 2, message="two errors")
    assert codes == [321, 321]
    stats = simulator.stats()
    assert (stats.pnl_single_subscriptions, stats.pnl_subscriptions) == (0, 0)


def test_closing_part_of_a_position_books_its_realized_pnl(simulator: Simulator, ib: Any) -> None:
    held = _held(simulator, "OPT", at_least=2)
    ib.reqAccountUpdates(simulator.accounts[0])
    pnl = _pnl_single(ib, simulator, held.conid)
    before = _valuation(simulator, held.conid)
    remaining = held.position - (1 if held.position > 0 else -1)

    simulator.set_position(held.conid, remaining)
    closed_gain = (1 if held.position > 0 else -1) * (before.price * 100 - held.avg_cost)
    ib_wait(ib, lambda: pnl.position == remaining, message="the new position's P&L")
    assert pnl.realizedPnL == pytest.approx(closed_gain, abs=0.01)
    item = next(i for i in ib.portfolio() if i.contract.conId == held.conid)
    assert item.realizedPNL == pytest.approx(closed_gain, abs=0.01)


def test_account_pnl_sums_its_positions(simulator: Simulator, ib: Any) -> None:
    account = simulator.accounts[0]
    pnl = ib.reqPnL(account)
    ib_wait(ib, lambda: not math.isnan(pnl.unrealizedPnL), message="the account's P&L")
    values = simulator.valuations(account)
    assert pnl.unrealizedPnL == pytest.approx(sum(v.unrealized for v in values), abs=0.01)
    assert (pnl.dailyPnL, pnl.realizedPnL) == (0.0, 0.0)
    assert simulator.stats().pnl_subscriptions == 1


def test_the_admin_endpoint_shows_valuations_and_subscriptions(simulator: Simulator, ib: Any) -> None:
    held = _held(simulator, "STK")
    _pnl_single(ib, simulator, held.conid)
    status, body = admin(simulator, "GET", "/valuations")
    assert status == 200
    assert {v["conid"] for v in body} == {p.conid for p in simulator.positions() if p.position}
    status, stats = admin(simulator, "GET", "/stats")
    client_id = ib.client.clientId
    assert stats["pnl_single_subscriptions"] == 1 and stats["pnl_subscriptions"] == 0
    assert stats["position_clients"] == [client_id]
    assert stats["account_update_clients"] == {str(client_id): simulator.accounts[0]}


def test_the_pnl_interval_is_validated(simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="pnl_interval"):
        simulator.set_pnl_interval(0)
    simulator.set_pnl_interval(0.5)
