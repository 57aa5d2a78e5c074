"""1101 (#14 item 3): the gateway drops the positions subscription and the account updates with the market
data; the service asks for them again (paced), so a position change after a 1101 still reaches the lake.
1102: the positions download is asked for once more, to verify it still completes."""

from collections.abc import Callable
from pathlib import Path

import pytest
from deltalake import DeltaTable

from possync import Service
from possync.actors.lake._query import query
from possync.simulator import Simulator
from tests.app.support import as_settings, scenario_settings, sources_by_conid
from tests.helpers import wait_until

REQ_POSITIONS = 61


def _positions_in_lake(root: Path, conid: int) -> set[float]:
    table = DeltaTable(str(root / "position_updates"))
    rows = query(table, f"SELECT position FROM t WHERE conid = {conid}").to_pydict()
    return set(rows["position"])


def _subscribed(sim: Simulator, client_id: int) -> bool:
    stats = sim.stats()
    return client_id in stats.position_clients and client_id in stats.account_update_clients


@pytest.mark.timeout(90)
def test_a_position_change_after_1101_reaches_the_lake(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=20)
    sections = scenario_settings(sim.port, tmp_path)
    account = sim.positions()[0].account
    sections["ib"]["account"] = account  # the client subscribes this account's updates at connect
    root = tmp_path / "lake"
    held = [p for p in sim.positions() if p.account == account]
    with Service(as_settings(sections)) as service:
        wait_until(lambda: len(sources_by_conid(root)) >= len(held), 30, message="a row for every position")
        client_id = service.status().connection.client_id
        assert _subscribed(sim, client_id)

        sim.send_error(1101)  # drops the client's positions and account-updates subscriptions
        wait_until(lambda: _subscribed(sim, client_id), 10, message="positions and account updates again")
        target = held[0]
        sim.set_position(target.conid, target.position + 7, target.account)

        wait_until(
            lambda: target.position + 7 in _positions_in_lake(root, target.conid),
            10,
            message="the changed position in the lake",
        )
        assert service.status().connection.client_id == client_id  # no reconnect was needed


@pytest.mark.timeout(90)
def test_1102_verifies_the_positions_subscription(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    with Service(as_settings(scenario_settings(sim.port, tmp_path))) as service:
        wait_until(lambda: service.status().connection.connected, 30)
        asked = sim.stats().requests.get(REQ_POSITIONS, 0)
        sim.send_error(1102)
        wait_until(lambda: sim.stats().requests.get(REQ_POSITIONS, 0) == asked + 1, 10)
        events = service.tree.events.all()
        assert not [e for e in events if e.child == "connection" and e.kind == "restarting"]
