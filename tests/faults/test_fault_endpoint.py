"""`POST /faults` on the service's loopback endpoint: fault injection for chaos runs against a running
service."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from possync import Service
from possync.actors.names import QUEUE, stream_name
from possync.config import Settings
from possync.simulator import Simulator
from possync.supervisors import EventKind
from tests.faults.rig import Rig, fault_settings
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(60)


def post(port: int, body: Any, path: str = "/faults") -> tuple[int, dict[str, Any]]:
    """POST `body` (JSON, or raw bytes) to the service's endpoint; the status code and the decoded reply."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def faulty(sim: Simulator, rig_factory: Callable[..., Rig]) -> Rig:
    """A rig whose service accepts POST /faults."""
    return rig_factory(sim, http={"faults": True})


def test_a_crash_posted_restarts_that_stream_at_once_and_the_invariants_hold(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    """The stream's own timers are minutes apart here: the endpoint's poke is what it crashes on."""
    faulty = rig_factory(sim, http={"faults": True}, streams={"silent_after_s": 600.0})
    port = faulty.service.http_port
    assert port is not None
    target = stream_name(min(faulty.active))
    mark = faulty.mark()

    assert post(port, {"actor": target, "fault": "crash"}) == (200, {"actor": target, "fault": "crash"})

    faulty.wait_event(EventKind.RESTARTING, target, after=mark, timeout=10.0)
    faulty.finish()


def test_a_hang_posted_is_reported_then_released(faulty: Rig) -> None:
    port = faulty.service.http_port
    assert port is not None

    assert post(port, {"actor": QUEUE, "fault": "hang", "seconds": 30})[0] == 200
    wait_until(lambda: f"{QUEUE} did not answer within 2s" in faulty.service.health(), 15)
    assert post(port, {"fault": "release"}) == (200, {"fault": "release"})

    wait_until(lambda: faulty.service.health() == [], 15)
    faulty.finish()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"actor": "no-such-actor", "fault": "crash"}, "no actor named 'no-such-actor'"),
        ({"actor": QUEUE, "fault": "explode"}, "Invalid enum value 'explode'"),
        ({"fault": "crash"}, '"actor" is required'),
        ({"actor": QUEUE, "fault": "hang", "seconds": -1}, "Expected `float` > 0.0"),
        ({"actor": QUEUE, "fault": "crash", "seconds": 2}, '"seconds" only applies to "hang"'),
        ({"actor": QUEUE, "fault": "fail_start", "times": 0}, "Expected `int` >= 1"),
        ({"actor": QUEUE, "fault": "crash", "extra": 1}, "unknown field `extra`"),
        (b"{not json", "bad fault request"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem_and_nothing_is_armed(
    body: Any, expected: str, faulty: Rig
) -> None:
    port = faulty.service.http_port
    assert port is not None

    code, reply = post(port, body)

    assert code == 400 and expected in reply["error"], reply
    faulty.finish()
    assert faulty.restarts(QUEUE) == 0


def test_fault_injection_is_off_unless_asked_for(sim: Simulator, tmp_path: Path) -> None:
    settings = msgspec.convert(fault_settings(sim.port, tmp_path), Settings)
    with Service(settings, http_port=0) as service:
        assert service.http_port is not None
        code, reply = post(service.http_port, {"actor": QUEUE, "fault": "crash"})
        assert code == 403 and "http.faults = true" in reply["error"]
        assert post(service.http_port, {}, path="/status")[0] == 404
