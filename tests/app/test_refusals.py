"""The gateway says no (#13), in the whole service against the simulator over TCP: missing live permission
falls back to delayed data (every row says so), delayed data not enabled parks a stream until it is
asked again (a timer, or a reconnect), a competing live session is waited out without a line, frozen
data of a closed market is marked frozen, and a storm of refusals stays within the pacing limit."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from possync import Service
from possync._run import demo_contract
from possync.actors.lake._query import query
from possync.actors.lake._tables import POSITION_UPDATES
from possync.actors.registry._store import append_change
from possync.messages.domain import DataType, Observation, Source, utc_now
from possync.messages.lake import StrategyChange
from possync.messages.status import ServiceStatus, StreamStatus
from possync.simulator import Simulator
from tests.app.support import as_settings, register_active, scenario_settings
from tests.helpers import holds_throughout, wait_until

WAIT_S = 30.0


def _service(sim: Simulator, tmp_path: Path, **sections: dict[str, Any]) -> Service:
    settings = scenario_settings(sim.port, tmp_path)
    for name, values in sections.items():
        settings.setdefault(name, {}).update(values)
    return Service(as_settings(settings), http_port=0)


def _activate(sim: Simulator, tmp_path: Path, count: int) -> list[int]:
    positions = sim.positions()[:count]
    register_active(tmp_path / "lake", positions)
    return [p.conid for p in positions]


def _streams(service: Service) -> dict[int, StreamStatus]:
    return {s.conid: s for s in service.status().streams}


def _all_streaming(service: Service, conids: list[int], data_type: str | None = None) -> bool:
    streams = _streams(service)
    return all(
        c in streams and streams[c].state == "streaming" and data_type in (None, streams[c].data_type)
        for c in conids
    )


def _stream_data_types(root: Path) -> dict[int, set[str | None]]:
    """The data types of each conid's stream rows in position_updates."""
    path = str(root / POSITION_UPDATES.name)
    if not DeltaTable.is_deltatable(path):
        return {}
    table = query(DeltaTable(path), "SELECT conid, data_type FROM t WHERE source = 'stream'").to_pydict()
    found: dict[int, set[str | None]] = {}
    for conid, data_type in zip(table["conid"], table["data_type"], strict=True):
        found.setdefault(conid, set()).add(data_type)
    return found


def _stream_prices(root: Path) -> int:
    """How many distinct (conid, market price) the stream rows hold."""
    table = DeltaTable(str(root / POSITION_UPDATES.name))
    sql = "SELECT count(*) AS n FROM (SELECT DISTINCT conid, market_price FROM t WHERE source = 'stream')"
    return query(table, sql)["n"][0].as_py()


def _lines_match(service: Service, sim: Simulator) -> bool:
    """No line leaked: the gateway holds exactly the lines our allocator leases."""
    status = service.status()
    return status.slots.in_use == sim.stats().subscriptions


@pytest.mark.timeout(90)
def test_without_live_permission_every_active_contract_streams_delayed_data_and_says_so(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(no_live_fraction=1.0)
    conids = _activate(sim, tmp_path, 5)
    observed: list[Observation] = []
    with _service(sim, tmp_path) as service:
        service.on_observation(observed.append)
        wait_until(lambda: _all_streaming(service, conids, "delayed"), WAIT_S, message="5 delayed streams")
        streamed = lambda: [o for o in list(observed) if o.source is Source.STREAM]  # noqa: E731
        wait_until(lambda: {o.contract.conid for o in streamed()} >= set(conids), WAIT_S, message="handlers")
        assert {o.data_type for o in streamed()} == {DataType.DELAYED}, "handlers are told the type too"
        root = tmp_path / "lake"
        wait_until(lambda: _stream_data_types(root).keys() >= set(conids), WAIT_S, message="stream rows")
        assert all(types == {"delayed"} for types in _stream_data_types(root).values())
        status = service.status()
        assert status.degraded == [], status.degraded
        assert not [s for s in status.streams if s.state == "parked"]
        wait_until(lambda: _lines_match(service, sim), WAIT_S, message="no leaked line")
    stats = sim.stats()
    assert stats.subscriptions == 0 and stats.pacing_violations == 0
    assert stats.data_warnings.get(10167, 0) >= 5 and not stats.refusals


@pytest.mark.timeout(90)
def test_delayed_not_enabled_parks_with_the_reason_until_the_entitlement_is_granted(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(no_live_fraction=1.0, delayed_data=False)
    conids = _activate(sim, tmp_path, 3)
    with _service(sim, tmp_path, streams={"refused_retry_s": 2.0}) as service:
        wait_until(lambda: _parked_with(service, conids, 10168), WAIT_S, message="parked with 10168")
        status = service.status()
        assert any("refused market data" in reason for reason in status.degraded), status.degraded
        assert "Delayed market data is not enabled" in _streams(service)[conids[0]].refusal
        assert status.connection.refusals.get(10168, 0) >= 3
        holds_throughout(lambda: sim.stats().subscriptions == 0, 1.0, message="a parked stream holds no line")
        sim.set_entitlements(conids, live=True)
        wait_until(lambda: _all_streaming(service, conids, "live"), WAIT_S, message="live after the grant")
        assert service.status().degraded == []
        assert all(s.refusal_code is None for s in service.status().streams)


@pytest.mark.timeout(90)
def test_a_parked_stream_asks_again_at_once_on_reconnecting(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(no_live_fraction=1.0, delayed_data=False)
    conids = _activate(sim, tmp_path, 2)
    with _service(sim, tmp_path) as service:  # refused_retry_s: an hour
        wait_until(lambda: _parked_with(service, conids, 10168), WAIT_S, message="parked with 10168")
        sim.set_entitlements(conids, live=True)
        sim.drop_all()
        wait_until(lambda: _all_streaming(service, conids, "live"), WAIT_S, message="live after reconnecting")
        wait_until(lambda: _lines_match(service, sim), WAIT_S, message="no leaked line")


@pytest.mark.timeout(90)
def test_half_entitled_streams_the_rest_delayed_within_the_budget_and_by_priority(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=8)
    positions = [p for p in sim.positions() if p.position][:8]
    sim.set_entitlements([p.conid for p in positions[1::2]], live=False, delayed=True)
    for priority, position in enumerate(positions, start=1):
        change = StrategyChange(demo_contract(position), "mixed", priority, True, utc_now(), "test")
        append_change(tmp_path / "lake", change)
    first = [p.conid for p in positions[:6]]
    with _service(sim, tmp_path, slots={"budget": 6}) as service:
        wait_until(lambda: _all_streaming(service, first), WAIT_S, message="the 6 most important stream")
        wait_until(lambda: all(_streams(service)[c].data_type for c in first), WAIT_S, message="typed")
        types = {c: _streams(service)[c].data_type for c in first}
        assert types == {c: "delayed" if i % 2 else "live" for i, c in enumerate(first)}, types
        rest = [_streams(service)[p.conid].state for p in positions[6:]]
        assert all(state == "queued" for state in rest), rest
        assert service.status().degraded == []
        holds_throughout(lambda: sim.stats().subscriptions <= 6, 1.0, message="the budget holds")
    assert sim.stats().peak_lines <= 6


@pytest.mark.timeout(90)
def test_a_competing_live_session_is_waited_out_without_lines(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory()
    conids = _activate(sim, tmp_path, 4)
    retry = {"competing_retry_s": 0.3, "competing_retry_max_s": 1.0}
    with _service(sim, tmp_path, streams=retry) as service:
        wait_until(lambda: _all_streaming(service, conids, "live"), WAIT_S, message="4 live streams")
        sim.set_competing_session(True)
        wait_until(lambda: _competing(service.status()), WAIT_S, message="health says competing session")
        wait_until(lambda: sim.stats().subscriptions == 0, WAIT_S, message="the silenced lines given back")
        holds_throughout(lambda: sim.stats().subscriptions == 0, 2.0, message="waiting holds no line")
        assert not _all_streaming(service, conids)
        sim.set_competing_session(False)
        wait_until(lambda: _all_streaming(service, conids, "live"), WAIT_S, message="back after it ends")
        wait_until(lambda: service.status().degraded == [], WAIT_S, message="healthy again")
        wait_until(lambda: _lines_match(service, sim), WAIT_S, message="no leaked line")
    assert sim.stats().refusals.get(10197, 0) >= 1 and sim.stats().pacing_violations == 0


@pytest.mark.timeout(90)
def test_frozen_data_of_a_closed_market_is_one_price_per_contract_marked_frozen(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory()
    sim.set_market_open(False)
    conids = _activate(sim, tmp_path, 3)
    with _service(sim, tmp_path, ib={"market_data_type": "frozen"}) as service:
        root = tmp_path / "lake"
        wait_until(lambda: _stream_data_types(root).keys() >= set(conids), WAIT_S, message="frozen rows")
        assert all(types == {"frozen"} for types in _stream_data_types(root).values())
        assert all(_streams(service)[c].data_type == "frozen" for c in conids)
        holds_throughout(lambda: _stream_prices(root) == 3, 1.0, message="one price per contract")


@pytest.mark.timeout(90)
def test_a_storm_of_refusals_and_retries_stays_within_the_pacing_limit(
    simulator_factory: Callable[..., Simulator], tmp_path: Path, warnings_logged: list[str]
) -> None:
    sim = simulator_factory(positions=40, no_live_fraction=1.0, delayed_data=False)
    conids = _activate(sim, tmp_path, 40)
    fast = {"refused_retry_s": 0.05, "competing_retry_s": 0.05, "competing_retry_max_s": 0.05}
    with _service(sim, tmp_path, streams=fast) as service:
        wait_until(lambda: sim.stats().refusals.get(10168, 0) >= 60, WAIT_S, message="a storm of 10168")
        sim.set_entitlements(conids[::2], live=True)
        sim.set_competing_session(True)
        wait_until(lambda: sim.stats().refusals.get(10197, 0) >= 30, WAIT_S, message="a storm of 10197")
        sim.set_competing_session(False)
        wait_until(lambda: _all_streaming(service, conids[::2], "live"), WAIT_S, message="entitled stream")
        assert service.status().connection.pacing_delays > 0
    stats = sim.stats()
    assert stats.pacing_violations == 0, stats
    assert stats.subscriptions == 0
    storm = [line for line in warnings_logged if "refused market data: 10168" in line]
    print("LINES", warnings_logged[:20])
    assert storm and len(storm) * 3 <= stats.refusals[10168], storm  # a burst is one line and a count
    assert any(" times (" in line for line in storm), storm


def _parked_with(service: Service, conids: list[int], code: int) -> bool:
    streams = _streams(service)
    return all(
        c in streams and streams[c].state == "parked" and streams[c].refusal_code == code for c in conids
    )


def _competing(status: ServiceStatus) -> bool:
    return any(reason.startswith("competing live session") for reason in status.degraded)
