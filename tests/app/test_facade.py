"""The embedding facade: the whole tree inside a host process, next to the host's own actors and threads."""

import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
import pytest

from possync import ChangeRefusedError, Service
from possync.actors.names import QUEUE, REGISTRY
from possync.messages.domain import Observation, Source
from possync.messages.status import ServiceStatus
from possync.simulator import Simulator
from possync.supervisors import EventKind, TreeStartError, TreeState
from tests.app.support import (
    ACTIVE,
    POSITIONS,
    as_settings,
    free_port,
    get_json,
    register_active,
    rows_for_every_conid,
    scenario_settings,
)
from tests.helpers import wait_until

WAIT_S = 30.0


class HostActor(pykka.ThreadingActor):
    """An actor of the host program: it must outlive the service untouched."""

    use_daemon_thread = True

    def on_receive(self, message: Any) -> Any:
        return ("host", message)


def _streaming(status: ServiceStatus) -> set[int]:
    return {stream.conid for stream in status.streams if stream.state == "streaming"}


def _settled(service: Service, sim: Simulator, conids: set[int]) -> ServiceStatus | None:
    """The status once exactly `conids` stream, as the gateway, the allocator and the streams agree."""
    status = service.status()
    agreed = sim.stats().subscriptions == status.slots.in_use == len(conids)
    return status if agreed and _streaming(status) == conids == {s.conid for s in status.streams} else None


@pytest.mark.timeout(120)
def test_the_acceptance_scenario_inside_a_host_process(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=POSITIONS)
    host_actor = HostActor.start()
    threads_before = set(threading.enumerate())
    positions = sim.positions()
    active = {p.conid for p in positions[:ACTIVE]}
    sections = scenario_settings(sim.port, tmp_path)
    root = Path(sections["lake"]["root"])
    register_active(root, positions[:ACTIVE])
    streamed: list[Observation] = []
    observed: list[Observation] = []

    service = Service(as_settings(sections), http_port=0)
    inline: list[tuple[str, Observation]] = []
    service.on_update(streamed.append)
    service.on_update(lambda o: inline.append((threading.current_thread().name, o)), inline=True)
    service.on_observation(observed.append)
    with service:
        status = wait_until(lambda: _settled(service, sim, active), WAIT_S, message="20 streaming")
        assert status.connection.connected and status.slots.budget == 90 and status.degraded == []
        code, document = get_json(service.http_port, "/status")
        assert code == 200 and document["slots"]["in_use"] == ACTIVE
        assert {s["conid"] for s in document["streams"] if s["state"] == "streaming"} == active
        assert get_json(service.http_port, "/health") == (200, {"status": "ok"})

        polled = {p.conid for p in positions[ACTIVE:]}
        wait_until(lambda: rows_for_every_conid(root, active, polled), WAIT_S, message="rows for all 200")
        assert {o.contract.conid for o in streamed} == active
        assert {o.source for o in streamed} == {Source.STREAM}
        assert {id(o) for o in streamed} <= {id(o) for _, o in inline}  # inline first, then queued
        assert any(name.endswith("-ib-loop") for name, _ in inline)  # ticks: in the network thread
        assert {o.source for o in observed} >= {Source.STREAM, Source.POLL}

        extra, dropped = positions[ACTIVE].conid, positions[0].conid
        service.activate(extra, "more")  # its contract comes from the lake
        wait_until(lambda: _settled(service, sim, active | {extra}), WAIT_S, message="the 21st streams")
        service.deactivate(dropped)
        wait_until(lambda: _settled(service, sim, active - {dropped} | {extra}), WAIT_S, message="released")
        with pytest.raises(ChangeRefusedError, match=f"conid {dropped} is not active"):
            service.deactivate(dropped)

    assert not service.running
    wait_until(lambda: sim.stats().clients == 0 == sim.stats().subscriptions, 10)
    leftovers = lambda: set(threading.enumerate()) - threads_before  # noqa: E731
    wait_until(lambda: not leftovers(), 10, message=f"threads left: {leftovers()}")
    assert host_actor.ask("still there?", timeout=5) == ("host", "still there?")
    host_actor.stop()


@pytest.mark.timeout(90)
def test_without_a_gateway_it_runs_degraded_and_connects_when_one_appears(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    port = free_port()
    with Service(as_settings(scenario_settings(port, tmp_path)), http_port=0) as service:
        code, body = get_json(service.http_port, "/health")
        assert code == 503 and body["status"] == "degraded"
        assert any(f"127.0.0.1:{port}" in reason and "running" in reason for reason in body["reasons"])
        assert service.status().connection.connected is False

        simulator_factory(port=port, positions=10)
        wait_until(lambda: get_json(service.http_port, "/health") == (200, {"status": "ok"}), WAIT_S)
        assert service.status().connection.connected


def _small_service(sim: Simulator, tmp: Path, active: int) -> Service:
    sections = scenario_settings(sim.port, tmp)
    register_active(Path(sections["lake"]["root"]), sim.positions()[:active])
    return Service(as_settings(sections), http_port=0)


@pytest.mark.timeout(90)
def test_restarts_are_counted_by_actor_and_a_hung_actor_is_reported_not_waited_for(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    conids = {p.conid for p in sim.positions()[:2]}
    with _small_service(sim, tmp_path, active=2) as service:
        wait_until(lambda: _settled(service, sim, conids), WAIT_S)
        crashed = f"stream-{min(conids)}"
        service.tree.faults.crash_next(crashed)  # its next message crashes it; it is restarted alone
        service.tree.poke(crashed)  # that message, now
        restarted = lambda: any(e.kind is EventKind.RESTARTING for e in service.tree.events.all())  # noqa: E731
        wait_until(restarted, WAIT_S)  # (a status ask would take the crash as an error reply instead)
        status = service.status()
        assert status.supervision.restarts_by_actor == {crashed: 1}
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{service.http_port}/metrics", timeout=10).read()
        assert f'possync_restarts_total{{actor="{crashed}"}} 1.0'.encode() in metrics
        wait_until(lambda: _settled(service, sim, conids), WAIT_S)

        service.tree.faults.hang(QUEUE)
        started = time.monotonic()
        _, body = wait_until(lambda: (r := get_json(service.http_port, "/health"))[0] == 503 and r, WAIT_S)
        assert time.monotonic() - started < 10
        assert f"{QUEUE} did not answer within 2s" in body["reasons"]
        service.tree.faults.release()
        wait_until(lambda: service.health() == [], WAIT_S)


@pytest.mark.timeout(90)
def test_two_services_in_one_process_do_not_collide(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    first_conids = {p.conid for p in sim.positions()[:2]}
    second_conids = {p.conid for p in sim.positions()[:3]}
    first = _small_service(sim, tmp_path / "first", active=2).start()
    try:
        with _small_service(sim, tmp_path / "second", active=3) as second:
            wait_until(
                lambda: first.status().slots.in_use == 2 and _streaming(first.status()) == first_conids
            )
            wait_until(lambda: _streaming(second.status()) == second_conids, WAIT_S)
            assert first.http_port != second.http_port
        assert _streaming(first.status()) == first_conids and first.health() == []
    finally:
        first.stop()


@pytest.mark.timeout(60)
def test_a_storage_actor_that_cannot_start_fails_the_start_and_leaves_nothing(tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    service = Service(as_settings(scenario_settings(free_port(), tmp_path)), http_port=0)
    service.tree.faults.fail_start(REGISTRY)

    with pytest.raises(TreeStartError, match="could not start child 'registry'"):
        service.start()

    assert service.http_port is None and not service.running
    wait_until(lambda: set(threading.enumerate()) <= threads_before, 10)


@pytest.mark.timeout(60)
def test_when_the_tree_gives_up_the_status_says_so(tmp_path: Path) -> None:
    sections = scenario_settings(free_port(), tmp_path)
    sections["supervision"].update(intensity=1, period_s=60.0)
    with Service(as_settings(sections), http_port=0) as service:
        service.tree.faults.fail_start(QUEUE, times=5)
        service.tree.faults.crash_next(QUEUE)  # its next tick crashes it, and it cannot start again

        wait_until(lambda: service.tree.state is TreeState.FAILED, 30)

        assert not service.running
        reasons = service.health()
        assert reasons[0].startswith("the supervision tree is failed: ")
        assert f"{QUEUE} is not running" in reasons
