"""The P&L channel of an IbSession against the simulator: capped, paced, kept in step with the positions,
asked again after 1101; its rows carry what pnlSingle says (IB's unset realized P&L as None)."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from possync.actors.gateway import load_client
from possync.actors.gateway._session import IbSession
from possync.messages.domain import Source
from possync.simulator import Simulator
from tests.conftest import next_client_id
from tests.helpers import ib_client, wait_until
from tests.streaming.support import Recording

CAP = 4


@pytest.fixture
def pnl_session(simulator_factory: Callable[..., Simulator]) -> Iterator[tuple[Simulator, IbSession]]:
    """A session with a P&L channel of at most `CAP` subscriptions, on a simulator of 10 positions."""
    sim = simulator_factory(positions=10, pnl_interval=0.2)
    session = IbSession(
        Recording().add, 45.0, name="test-pnl-loop", client=load_client(ib_client()), pnl_subscriptions=CAP
    )
    session.connect("127.0.0.1", sim.port, next_client_id(), timeout_s=5, account="", readonly=True, tries=1)
    yield sim, session
    session.close()
    assert not [t for t in threading.enumerate() if t.name == "test-pnl-loop"]


def _rows(session: IbSession, into: dict[tuple[str, int], Any]) -> dict[tuple[str, int], Any]:
    into.update({(row.account, row.contract.conid): row for row in session.pnl_rows(5.0)})
    return into


@pytest.mark.timeout(30)
def test_held_positions_are_subscribed_up_to_the_cap_and_their_values_become_pnl_rows(
    pnl_session: tuple[Simulator, IbSession],
) -> None:
    sim, session = pnl_session
    wait_until(lambda: sim.stats().pnl_single_subscriptions == CAP, 10, message="the cap")
    rows: dict[tuple[str, int], Any] = {}
    wait_until(lambda: len(_rows(session, rows)) == CAP, 10, message="a row per subscription")

    valuations = {(v.account, v.conid): v for v in sim.valuations()}
    for key, row in rows.items():
        truth = valuations[key]
        assert row.source is Source.PNL and row.position == truth.position and row.avg_cost == truth.avg_cost
        assert row.value.market_value == pytest.approx(truth.value, rel=0.05, abs=1.0)
        assert row.value.realized_pnl is None, "IB's unset (Double.MAX): not traded today"
        assert row.value.daily_pnl is not None and row.market_price is not None
    assert session.pnl_subscriptions == CAP
    assert sim.stats().subscriptions == 0 == sim.stats().peak_lines, "no market-data line"


@pytest.mark.timeout(30)
def test_a_closed_position_frees_its_subscription_for_the_next_and_1101_asks_again(
    pnl_session: tuple[Simulator, IbSession],
) -> None:
    sim, session = pnl_session
    wait_until(lambda: sim.stats().pnl_single_subscriptions == CAP, 10, message="the cap")
    rows: dict[tuple[str, int], Any] = {}
    wait_until(lambda: len(_rows(session, rows)) == CAP, 10, message="a row per subscription")
    account, conid = min(rows)

    sim.set_position(conid, 0.0, account)
    wait_until(lambda: len(_rows(session, rows)) > CAP, 10, message="the next position's row")
    assert sim.stats().pnl_single_subscriptions == CAP and session.pnl_subscriptions == CAP

    sim.send_error(1101)
    wait_until(lambda: sim.stats().pnl_single_subscriptions == 0, 5, message="the gateway dropped them")
    session.resubmit_pnl()
    wait_until(lambda: sim.stats().pnl_single_subscriptions == CAP, 10, message="asked again")
    assert sim.stats().pacing_violations == 0
