"""The poller's snapshot channel, in the whole service against the simulator over TCP.

Two accounts and no `ib.account`: ib_insync then subscribes no portfolio updates (as with an advisor
login), so the positions feed brings quantities without prices, and the poller takes them by snapshot on
lines the allocator lends it only while they are free (the P&L channel, which would value them without
a line, is off here: `tests/app/test_values.py` shows it).
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from possync import Service
from possync.actors.names import QUEUE
from possync.messages.domain import Contract, Observation, Source
from possync.messages.queue import GetQueueStatus
from possync.messages.routing import Enqueue
from possync.simulator import Simulator
from tests.app.support import as_settings, register_active, scenario_settings
from tests.helpers import wait_until

ACCOUNTS = ("DU111111", "DU222222")
PER_ACCOUNT = 10
WAIT_S = 30.0


def _service(sim: Simulator, tmp_path: Path, budget: int, snapshot_lines: int) -> Service:
    sections = scenario_settings(sim.port, tmp_path)
    sections["slots"] = {"budget": budget}
    sections["pnl"] = {"enabled": False}  # the P&L channel would value them: no snapshot needed
    sections["poller"].update(batch_size=2 * PER_ACCOUNT, snapshot_lines=snapshot_lines)
    sections["queue"].update(refresh_s=0.5, backoff_min_s=0.5, backoff_max_s=1.0, max_attempts=2)
    return Service(as_settings(sections), http_port=0)


def _snapshots_of(observed: list[Observation]) -> dict[tuple[str, int], Observation]:
    return {(o.account, o.contract.conid): o for o in list(observed) if o.source is Source.SNAPSHOT}


@pytest.mark.timeout(90)
def test_positions_without_a_price_get_one_by_snapshot_on_lines_lent_and_given_back(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=PER_ACCOUNT, accounts=ACCOUNTS)
    held = {(p.account, p.conid) for p in sim.positions() if p.position}
    observed: list[Observation] = []
    with _service(sim, tmp_path, budget=6, snapshot_lines=3) as service:
        service.on_observation(observed.append)
        wait_until(lambda: held <= _snapshots_of(observed).keys(), WAIT_S, message="a snapshot of each")
        by_snapshot = _snapshots_of(observed)
        assert all(by_snapshot[key].market_price for key in held), "every snapshot brought a price"
        positions = {(p.account, p.conid): p.position for p in sim.positions()}
        assert all(o.position == positions[key] for key, o in by_snapshot.items()), "quantities as held"
        wait_until(lambda: service.status().slots.lent == 0 == sim.stats().subscriptions, WAIT_S)

    stats = sim.stats()
    assert stats.snapshots >= len({conid for _, conid in held})
    assert stats.peak_lines <= 3, "never more lines than lent"
    assert (stats.refused_101, stats.pacing_violations, stats.orders) == (0, 0, 0)


@pytest.mark.timeout(90)
def test_no_line_is_lent_while_the_streams_hold_the_whole_budget(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=PER_ACCOUNT, accounts=ACCOUNTS)
    register_active(tmp_path / "lake", sim.positions()[:2])
    observed: list[Observation] = []
    with _service(sim, tmp_path, budget=2, snapshot_lines=3) as service:
        streaming = lambda: [s for s in service.status().streams if s.state == "streaming"]  # noqa: E731
        wait_until(lambda: len(streaming()) == 2 == sim.stats().subscriptions, WAIT_S, message="2 streams")
        snapshots_before = sim.stats().snapshots  # the first cycles may have found the lines still free
        service.on_observation(observed.append)
        polled = lambda: [o for o in list(observed) if o.source is Source.POLL]  # noqa: E731
        wait_until(lambda: len(polled()) >= 3 * PER_ACCOUNT, WAIT_S, message="several poll cycles")
        assert all(o.market_price is None for o in polled()), "no portfolio price, no snapshot line"
        assert not _snapshots_of(observed)
        assert sim.stats().snapshots == snapshots_before
        assert sim.stats().peak_lines <= 2


@pytest.mark.timeout(90)
def test_a_contract_the_gateway_does_not_know_is_parked_with_the_snapshots_refusal(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=PER_ACCOUNT, accounts=ACCOUNTS)
    with _service(sim, tmp_path, budget=6, snapshot_lines=3) as service:
        wait_until(lambda: service.tree.whereis(QUEUE), WAIT_S)
        service.tree.whereis(QUEUE).tell(Enqueue(Contract(1, "NOPE", "STK"), 1, "refused by the gateway"))

        def parked() -> tuple[str, ...]:
            status = service.tree.whereis(QUEUE).ask(GetQueueStatus(), timeout=5)
            return tuple(item.reason for item in status.parked if item.conid == 1)

        (reason,) = wait_until(parked, WAIT_S, message="conid 1 parked")
        assert reason.startswith("snapshot refused (200:"), reason
        wait_until(lambda: service.status().slots.lent == 0 == sim.stats().subscriptions, WAIT_S)
