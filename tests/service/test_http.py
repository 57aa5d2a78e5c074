"""The loopback status endpoint: /health, /status and /metrics agree with the status document."""

import json
import urllib.error
import urllib.request

import pytest

from possync.actors.service._http import StatusEndpoint
from possync.actors.service._metrics import metrics_registry, render
from possync.messages.status import (
    ConnectionStatus,
    LakeStatusSummary,
    QueueStatus,
    ServiceStatus,
    SlotStatus,
    StreamStatus,
    SupervisionStatus,
)

STATUS = ServiceStatus(
    connection=ConnectionStatus(connected=True, reconnects=2),
    slots=SlotStatus(budget=10, effective=8, in_use=7, refused_101=3),
    streams=[StreamStatus(conid=1, state="streaming", last_tick_age_s=0.2)],
    queue=QueueStatus(depth=42),
    lake=LakeStatusSummary(rows_written=1000, pending_rows=5, commits=4),
    supervision=SupervisionStatus(restarts=3, restarts_by_actor={"stream:1": 2, "connection": 1}),
)


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


@pytest.fixture
def endpoint():
    reasons: list[str] = []
    registry = metrics_registry(lambda: STATUS)
    server = StatusEndpoint("127.0.0.1", 0, lambda: STATUS, lambda: list(reasons), lambda: render(registry))
    server.start()
    yield server, reasons
    server.stop()


@pytest.mark.timeout(20)
def test_status_is_the_status_document(endpoint):
    server, _ = endpoint
    code, content_type, body = _get(server.port, "/status")
    assert (code, content_type) == (200, "application/json")
    document = json.loads(body)
    assert document["connection"]["connected"] is True
    assert document["slots"] == {
        "budget": 10,
        "effective": 8,
        "in_use": 7,
        "lent": 0,
        "refused_101": 3,
        "leaks_reclaimed": 0,
    }
    stream = {"conid": 1, "state": "streaming", "last_tick_age_s": 0.2}
    stream |= {"data_type": None, "refusal_code": None, "refusal": ""}
    assert document["streams"] == [stream]
    assert document["queue"]["depth"] == 42


@pytest.mark.timeout(20)
def test_health_is_ok_then_degraded_with_reasons(endpoint):
    server, reasons = endpoint
    assert _get(server.port, "/health")[::2] == (200, b'{"status":"ok"}')
    reasons.append("gateway 127.0.0.1:4002 not reachable")
    code, _, body = _get(server.port, "/health")
    assert code == 503
    assert json.loads(body) == {"status": "degraded", "reasons": ["gateway 127.0.0.1:4002 not reachable"]}


@pytest.mark.timeout(20)
def test_metrics_translate_the_status(endpoint):
    server, _ = endpoint
    code, content_type, body = _get(server.port, "/metrics")
    text = body.decode()
    assert code == 200 and content_type.startswith("text/plain")
    assert "possync_lines_in_use 7.0" in text
    assert "possync_queue_depth 42.0" in text
    assert "possync_lake_rows_written_total 1000.0" in text
    assert 'possync_restarts_total{actor="stream:1"} 2.0' in text
    assert "possync_refusals_101_total 3.0" in text


@pytest.mark.timeout(20)
def test_unknown_path_and_failing_source_answer_without_crashing():
    def broken() -> ServiceStatus:
        raise RuntimeError("lake writer did not answer")

    server = StatusEndpoint("127.0.0.1", 0, broken, lambda: [], lambda: b"")
    server.start()
    try:
        assert _get(server.port, "/nope")[0] == 404
        code, _, body = _get(server.port, "/status")
        assert code == 500 and b"lake writer did not answer" in body
        assert _get(server.port, "/health")[0] == 200  # still serving
    finally:
        server.stop()
