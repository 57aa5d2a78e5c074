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
    assert [{k: s[k] for k in ("conid", "state", "last_tick_age_s")} for s in document["streams"]] == [
        {"conid": 1, "state": "streaming", "last_tick_age_s": 0.2}
    ]
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


@pytest.mark.timeout(20)
def test_the_page_is_one_self_contained_document_that_only_reads(endpoint):
    server, _ = endpoint
    code, content_type, body = _get(server.port, "/")
    page = body.decode()
    assert (code, content_type) == (200, "text/html; charset=utf-8")
    assert 'fetch("/status"' in page and 'fetch("/history"' in page
    # nothing fetched from elsewhere: no external script, style, font or image; no form, no POST
    for loaded in ("<script src", "<link", "@import", "url(", "<form", "<iframe", "POST", "method:"):
        assert loaded not in page, loaded
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as reply:
        assert "connect-src 'self'" in reply.headers["Content-Security-Policy"]


@pytest.mark.timeout(20)
def test_history_is_served_when_kept_and_a_post_to_the_page_changes_nothing():
    kept = {"interval_s": 1.0, "fields": ["t"], "samples": [[1.0]]}
    server = StatusEndpoint("127.0.0.1", 0, lambda: STATUS, list, lambda: b"", history=lambda: kept)
    server.start()
    try:
        assert _get(server.port, "/history")[::2] == (
            200,
            b'{"interval_s":1.0,"fields":["t"],"samples":[[1.0]]}',
        )
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 404
    finally:
        server.stop()


@pytest.mark.timeout(20)
def test_history_without_a_sampler_is_a_clear_404(endpoint):
    server, _ = endpoint
    code, _, body = _get(server.port, "/history")
    assert code == 404 and b"no history" in body
