"""A competing live session (10197) with both clients: live data stops, delayed data goes on."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

from possync.simulator import Simulator
from tests.simulator.mdsupport import CONIDS, Errors, Ticks, assert_silent, contract, req_id_of
from tests.simulator.support import admin, ib_wait

Connect = Callable[..., Any]


def test_a_competing_session_silences_live_streams_which_keep_their_lines(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    simulator.set_entitlements([CONIDS["IBM"]], live=False)
    ib = connect(simulator)
    errors = Errors(ib)
    live = ib.reqMktData(contract(client, "AAPL"))
    ib.reqMarketDataType(3)
    delayed = Ticks(ib.reqMktData(contract(client, "IBM")))
    live_ticks = Ticks(live)
    ib_wait(ib, lambda: live_ticks.updates > 2 and delayed.updates > 2, message="both stream")

    assert simulator.set_competing_session(True) == 1
    ib_wait(ib, lambda: 10197 in errors.codes(), message="10197 for the live stream")
    assert errors.codes(req_id_of(ib, live)) == [10197]
    assert_silent(simulator, ib, live_ticks)
    before = delayed.updates
    ib_wait(ib, lambda: delayed.updates > before + 2, message="delayed data goes on")
    stats = simulator.stats()
    assert stats.competing_session and stats.subscriptions == 2
    assert stats.data_warnings == {10167: 1, 10197: 1}


def test_during_it_new_live_requests_get_10197_and_after_it_only_new_requests_stream(
    simulator: Simulator, client: ModuleType, connect: Connect
) -> None:
    ib = connect(simulator)
    errors = Errors(ib)
    aapl = contract(client, "AAPL")
    silenced = Ticks(ib.reqMktData(aapl))
    ib_wait(ib, lambda: silenced.updates > 1, message="AAPL streams")
    simulator.set_competing_session(True)
    msft = contract(client, "MSFT")
    refused = ib.reqMktData(msft)
    ib_wait(ib, lambda: errors.codes(req_id_of(ib, refused)) == [10197], message="MSFT refused with 10197")
    assert simulator.stats().subscriptions == 1  # the refused request holds no line

    simulator.set_competing_session(False)
    assert_silent(simulator, ib, silenced)  # a silenced stream does not come back by itself
    ib.cancelMktData(aapl)
    ib.cancelMktData(msft)
    again = Ticks(ib.reqMktData(msft))
    ib_wait(ib, lambda: again.updates > 2, message="a new request streams after the session")
    assert simulator.stats().refusals == {10197: 1}


def test_the_admin_endpoint_starts_and_ends_a_competing_session(simulator: Simulator) -> None:
    assert admin(simulator, "POST", "/competing-session", {"on": True}) == (200, {"on": True, "silenced": 0})
    assert admin(simulator, "GET", "/stats")[1]["competing_session"] is True
    assert admin(simulator, "POST", "/competing-session", {"on": False}) == (
        200,
        {"on": False, "silenced": 0},
    )
    assert not simulator.stats().competing_session
