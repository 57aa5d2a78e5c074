"""What a position is worth, in the whole service against the simulator over TCP, with a real lake.

Positions without a line get their market value and P&L from the line-free channels: the P&L channel
(reqPnLSingle, rows with source `pnl`) for every account of the login, portfolio updates for `ib.account`;
and streamed options carry the gateway's model greeks.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from possync import Service
from possync.actors.names import PNL
from possync.messages.domain import Observation, Source
from possync.messages.pnl import GetPnlStats
from possync.simulator import Simulator
from tests.app.support import as_settings, register_active, scenario_settings
from tests.helpers import wait_until

ACCOUNTS = ("DU111111", "DU222222")
PER_ACCOUNT = 10
WAIT_S = 30.0
VALUE_TOLERANCE = 0.05
"""The mark walks between the gateway's answer and the comparison: 5 % of the value (plus $1)."""


def _service(sim: Simulator, tmp_path: Path, **ib: object) -> Service:
    sections = scenario_settings(sim.port, tmp_path)
    sections["ib"].update(ib)
    sections["pnl"] = {"write_interval_s": 0.3}
    sections["poller"].update(batch_size=2 * PER_ACCOUNT)
    sections["queue"].update(refresh_s=0.5)
    return Service(as_settings(sections), http_port=0)


def _latest(observed: list[Observation], source: Source) -> dict[tuple[str, int], Observation]:
    return {(o.account, o.contract.conid): o for o in list(observed) if o.source is source}


def _multiplier(row: Observation) -> float:
    return float(row.contract.multiplier or 1.0)


def _assert_consistent(sim: Simulator, rows: dict[tuple[str, int], Observation]) -> None:
    """Each row's value agrees with the simulator's valuation, and with its own position and price."""
    valuations = {(v.account, v.conid): v for v in sim.valuations()}
    for key, row in rows.items():
        value, truth = row.value, valuations[key]
        assert value is not None and value.market_value is not None, f"{key}: a market value"
        assert value.market_value == pytest.approx(truth.value, rel=VALUE_TOLERANCE, abs=1.0), key
        assert row.market_price is not None
        implied = row.position * row.market_price * _multiplier(row)
        assert value.market_value == pytest.approx(implied, rel=VALUE_TOLERANCE, abs=1.0), key
        assert value.unrealized_pnl == pytest.approx(
            value.market_value - row.position * truth.avg_cost, abs=0.05
        )


@pytest.mark.timeout(90)
def test_every_position_of_two_accounts_is_valued_by_the_pnl_channel_without_a_line(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=PER_ACCOUNT, accounts=ACCOUNTS, pnl_interval=0.2)
    held = {(p.account, p.conid) for p in sim.positions() if p.position}
    observed: list[Observation] = []
    with _service(sim, tmp_path) as service:
        service.on_observation(observed.append)
        wait_until(lambda: held <= _latest(observed, Source.PNL).keys(), WAIT_S, message="a pnl row of each")
        _assert_consistent(sim, _latest(observed, Source.PNL))
        polled = lambda: _latest(observed, Source.POLL)  # noqa: E731
        wait_until(
            lambda: held <= {k for k, o in polled().items() if o.value}, WAIT_S, message="valued polls"
        )
        _assert_consistent(sim, {key: polled()[key] for key in held})
        assert sim.stats().pnl_single_subscriptions == len(held)
        assert service.status().connection.pnl_subscriptions == len(held)
        stats = service.tree.whereis(PNL).ask(GetPnlStats(), timeout=5)
        assert stats.rows >= len(held) and stats.writes < stats.rows, "pnl rows go to the lake in batches"

        sim.send_error(1101)  # the gateway drops every P&L subscription: the service asks again
        wait_until(lambda: sim.stats().pnl_single_subscriptions == len(held), WAIT_S, message="resubmitted")
        before = next(p for p in sim.positions() if (p.account, p.conid) == sorted(held)[0])
        account, conid = before.account, before.conid
        moved = sim.set_position(conid, 2 * before.position, account)
        pnl_rows = lambda: _latest(observed, Source.PNL)  # noqa: E731
        wait_until(lambda: pnl_rows()[account, conid].position == moved.position, WAIT_S, message="answered")

    stats = sim.stats()
    assert (stats.snapshots, stats.peak_lines) == (0, 0), "no snapshot, no line"
    assert (stats.refused_101, stats.pacing_violations, stats.orders) == (0, 0, 0)


@pytest.mark.timeout(90)
def test_portfolio_updates_value_the_polled_positions_of_the_configured_account(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=PER_ACCOUNT, accounts=ACCOUNTS)
    held = {(p.account, p.conid) for p in sim.positions() if p.position and p.account == ACCOUNTS[0]}
    observed: list[Observation] = []
    with _service(sim, tmp_path, account=ACCOUNTS[0]) as service:
        service.on_observation(observed.append)
        polled = lambda: _latest(observed, Source.POLL)  # noqa: E731
        wait_until(
            lambda: held <= {k for k, o in polled().items() if o.value}, WAIT_S, message="valued polls"
        )
        rows = {key: polled()[key] for key in held}
        _assert_consistent(sim, rows)
        assert all(row.value.realized_pnl is not None for row in rows.values()), "portfolio: realized 0"
    assert (sim.stats().snapshots, sim.stats().peak_lines) == (0, 0)


@pytest.mark.timeout(90)
def test_streamed_options_carry_the_gateways_model_greeks_and_their_quote(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=40)
    options = [p for p in sim.positions() if p.sec_type == "OPT" and p.position][:3]
    assert options, "the demo portfolio holds options"
    register_active(tmp_path / "lake", options)
    updates: list[Observation] = []
    with _service(sim, tmp_path) as service:
        service.on_update(updates.append)
        greeked = lambda: {o.contract.conid: o for o in list(updates) if o.greeks and o.greeks.delta}  # noqa: E731
        wanted = {p.conid for p in options}
        wait_until(lambda: wanted <= greeked().keys(), WAIT_S, message="greeks of every option")
        for conid, row in greeked().items():
            model, greeks, quote = sim.option_model(conid), row.greeks, row.quote
            assert greeks is not None and quote is not None
            assert greeks.implied_vol == pytest.approx(model.implied_vol, abs=1e-4), "the model's volatility"
            assert greeks.und_price == pytest.approx(model.underlying, rel=0.05)
            assert greeks.delta == pytest.approx(model.delta, abs=0.1)
            assert greeks.gamma == pytest.approx(model.gamma, rel=0.5, abs=1e-3)
            assert greeks.vega == pytest.approx(model.vega, rel=0.5, abs=1e-2)
            assert greeks.theta == pytest.approx(model.theta, rel=0.5, abs=1e-2)
            assert quote.bid is not None and quote.ask is not None and quote.bid <= quote.ask
            assert row.data_type == "live"
