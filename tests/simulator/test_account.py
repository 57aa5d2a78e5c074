"""Positions (a subscription: changes are pushed), portfolio and account values through both clients."""

from collections.abc import Callable
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.simulator.support import admin, barrier, ib_wait

Connect = Callable[..., Any]


def test_positions_are_the_simulators_open_positions(simulator: Simulator, ib: Any) -> None:
    expected = {(p.account, p.conid, p.position, p.avg_cost) for p in simulator.positions()}
    got = {(p.account, p.contract.conId, p.position, p.avgCost) for p in ib.positions()}
    assert got == expected
    option = next(p.contract for p in ib.positions() if p.contract.secType == "OPT")
    assert (
        option.multiplier == "100"
        and option.right in ("C", "P")
        and option.localSymbol.startswith(option.symbol)
    )


def test_a_changed_position_is_pushed_to_position_subscribers(simulator: Simulator, ib: Any) -> None:
    pushed: list[Any] = []
    ib.positionEvent += pushed.append
    held = ib.positions()[0]
    conid = held.contract.conId

    simulator.set_position(conid, held.position + 7)
    ib_wait(
        ib, lambda: any(p.contract.conId == conid for p in pushed), message="positionEvent for the change"
    )
    assert pushed[-1].position == held.position + 7
    assert pushed[-1].contract.localSymbol == held.contract.localSymbol

    simulator.set_position(conid, 0)
    ib_wait(
        ib, lambda: conid not in {p.contract.conId for p in ib.positions()}, message="closed position gone"
    )


def test_a_new_position_is_pushed_too(simulator: Simulator, ib: Any) -> None:
    held = {p.contract.conId for p in ib.positions()}
    new_conid = next(conid for conid in (8314, 265598, 272093, 756733) if conid not in held)
    simulator.set_position(new_conid, 15)
    ib_wait(
        ib, lambda: new_conid in {p.contract.conId for p in ib.positions()}, message="new position pushed"
    )


def test_a_position_set_through_the_admin_endpoint_reaches_position_event(
    simulator: Simulator, ib: Any
) -> None:
    pushed: list[Any] = []
    ib.positionEvent += pushed.append
    conid = ib.positions()[0].contract.conId
    status, body = admin(simulator, "POST", "/position", {"conid": conid, "position": -3})
    assert status == 200 and body["conid"] == conid and body["position"] == -3
    ib_wait(ib, lambda: any(p.contract.conId == conid and p.position == -3 for p in pushed))


def test_portfolio_prices_every_open_position_of_the_account(simulator: Simulator, ib: Any) -> None:
    account = simulator.accounts[0]
    ib.reqAccountUpdates(account)
    items = {item.contract.conId: item for item in ib.portfolio()}
    open_positions = {p.conid: p for p in simulator.positions() if p.position}
    assert set(items) == set(open_positions)
    for conid, item in items.items():
        multiplier = float(item.contract.multiplier or 1)
        assert item.position == open_positions[conid].position
        assert item.marketPrice > 0
        assert abs(item.marketValue - item.position * item.marketPrice * multiplier) < 0.01
        assert item.account == account
    values = {v.tag: v.value for v in ib.accountValues(account)}
    assert float(values["NetLiquidation"]) > 0 and values["AccountCode"] == account


def test_a_changed_position_is_pushed_to_the_accounts_portfolio_subscriber(
    simulator: Simulator, ib: Any
) -> None:
    ib.reqAccountUpdates(simulator.accounts[0])
    pushed: list[Any] = []
    ib.updatePortfolioEvent += pushed.append
    conid = ib.portfolio()[0].contract.conId
    simulator.set_position(conid, 99)
    ib_wait(ib, lambda: any(i.contract.conId == conid and i.position == 99 for i in pushed))


def test_positions_of_two_accounts_and_the_portfolio_of_either(
    simulator_factory: Callable[..., Simulator], ib_factory: Connect
) -> None:
    sim = simulator_factory(accounts=("DU111", "DU222"), positions=3)
    ib = ib_factory(sim)
    assert len(ib.positions("DU111")) == len(ib.positions("DU222")) == 3
    ib.reqAccountUpdates("DU222")
    assert {i.account for i in ib.portfolio()} == {"DU222"}


def test_cancel_positions_ends_the_pushes(simulator: Simulator, ib: Any) -> None:
    pushed: list[Any] = []
    ib.positionEvent += pushed.append
    ib.client.cancelPositions()
    barrier(ib)
    simulator.set_position(ib.positions()[0].contract.conId, 1234)
    barrier(ib)
    assert pushed == []


def test_set_position_refuses_an_unknown_conid_and_changes_nothing(simulator: Simulator) -> None:
    before = simulator.positions()
    with pytest.raises(ValueError, match="unknown conid 42"):
        simulator.set_position(42, 1)
    assert simulator.positions() == before
