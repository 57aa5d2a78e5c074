"""How refusals show: delayed streams in the status line, refusals by code in /metrics, a competing live
session as a health reason while a stream waits for it."""

from possync.actors.service._metrics import metrics_registry, render
from possync.actors.service._refusal_health import competing_session
from possync.actors.service._status_line import summary
from possync.messages.slots import SlotLease
from possync.messages.status import (
    ConnectionStatus,
    LakeStatusSummary,
    QueueStatus,
    ServiceStatus,
    SlotStatus,
    StreamStatus,
    SupervisionStatus,
)
from possync.messages.streams import StreamState
from possync.messages.streams import StreamStatus as ActorStreamStatus

STATUS = ServiceStatus(
    connection=ConnectionStatus(connected=True, host="127.0.0.1", port=4002, refusals={354: 3, 10197: 12}),
    slots=SlotStatus(budget=90, effective=90, in_use=2),
    streams=[
        StreamStatus(1, "streaming", 0.1, data_type="live"),
        StreamStatus(2, "streaming", 0.3, data_type="delayed"),
        StreamStatus(3, "parked", refusal_code=10168, refusal="Delayed market data is not enabled."),
    ],
    queue=QueueStatus(depth=1),
    lake=LakeStatusSummary(rows_written=10, pending_rows=0),
    supervision=SupervisionStatus(restarts=0),
)


def test_the_status_line_counts_the_delayed_streams() -> None:
    assert "streams 3 (1 parked, 2 streaming; 1 delayed)" in summary(STATUS)


def test_metrics_count_refusals_by_code() -> None:
    text = render(metrics_registry(lambda: STATUS)).decode()
    assert 'possync_refusals_total{code="354"} 3.0' in text
    assert 'possync_refusals_total{code="10197"} 12.0' in text


def _stream(conid: int, state: StreamState, code: int | None) -> ActorStreamStatus:
    lease = SlotLease(conid, 1) if state is StreamState.STREAMING else None
    return ActorStreamStatus(conid, 5, state, lease, False, 0, 0, None, refusal_code=code)


def test_a_competing_session_is_a_health_reason_while_a_stream_waits_for_it() -> None:
    waiting = [_stream(1, StreamState.WAITING, 10197), _stream(2, StreamState.REQUESTED, 10197), None]
    (reason,) = competing_session(waiting)
    assert reason.startswith("competing live session (10197): 2 active streams")
    assert (
        competing_session([_stream(1, StreamState.STREAMING, None), _stream(2, StreamState.PARKED, 354)])
        == []
    )
