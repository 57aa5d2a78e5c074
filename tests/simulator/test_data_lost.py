"""1101 ("connectivity restored - data lost"): account data subscriptions are lost like market data.

After 1101 a client gets no more position pushes until it calls reqPositions again, no more portfolio or
account values until reqAccountUpdates again, and no more P&L until reqPnLSingle/reqPnL again.
"""

import math
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.helpers import wait_until
from tests.simulator.support import barrier, ib_wait

pytestmark = pytest.mark.timeout(30)


def _lose_data(sim: Simulator, ib: Any) -> None:
    """Send 1101 and wait until `ib` has handled it."""
    codes: list[int] = []
    ib.errorEvent += lambda _req_id, code, *_: codes.append(code)
    assert sim.send_error(1101) == 1
    ib_wait(ib, lambda: 1101 in codes, message="the 1101 notice")


def _change(sim: Simulator, ib: Any, conid: int, position: float) -> None:
    """Change a position and let `ib` handle whatever the simulator pushes for it."""
    sim.set_position(conid, position)
    barrier(ib)


def test_no_position_pushes_after_1101_until_req_positions(simulator: Simulator, ib: Any) -> None:
    pushed: list[Any] = []
    ib.positionEvent += pushed.append
    conid = ib.positions()[0].contract.conId
    _lose_data(simulator, ib)
    assert simulator.stats().position_clients == []

    _change(simulator, ib, conid, 1234)
    assert pushed == []

    ib.reqPositions()
    assert simulator.stats().position_clients == [ib.client.clientId]
    _change(simulator, ib, conid, 4321)
    ib_wait(ib, lambda: pushed and pushed[-1].position == 4321, message="pushes again")


def test_no_account_updates_after_1101_until_req_account_updates(simulator: Simulator, ib: Any) -> None:
    account = simulator.accounts[0]
    pushed: list[Any] = []
    ib.updatePortfolioEvent += pushed.append
    conid = ib.portfolio()[0].contract.conId
    _lose_data(simulator, ib)
    assert simulator.stats().account_update_clients == {}

    _change(simulator, ib, conid, 77)
    assert pushed == []

    ib.reqAccountUpdates(account)
    assert simulator.stats().account_update_clients == {ib.client.clientId: account}
    _change(simulator, ib, conid, 78)
    ib_wait(ib, lambda: pushed and pushed[-1].position == 78, message="portfolio pushes again")


def test_pnl_subscriptions_end_at_1101_until_requested_again(simulator_factory: Any, ib_factory: Any) -> None:
    sim = simulator_factory(pnl_interval=0.05)
    ib = ib_factory(sim)
    account, conid = sim.accounts[0], sim.positions()[0].conid
    answers: list[Any] = []
    ib.pnlSingleEvent += answers.append
    ib.reqPnLSingle(account, "", conid)
    ib.reqPnL(account)
    ib_wait(ib, lambda: answers, message="P&L answers")
    _lose_data(sim, ib)
    stats = sim.stats()
    assert (stats.pnl_single_subscriptions, stats.pnl_subscriptions) == (0, 0)

    ib.cancelPnLSingle(account, "", conid)  # the client still holds it: forget it, then ask again
    pnl = ib.reqPnLSingle(account, "", conid)
    ib_wait(ib, lambda: not math.isnan(pnl.value), message="answers again")
    wait_until(lambda: sim.stats().pnl_single_subscriptions == 1)
