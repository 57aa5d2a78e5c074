"""What the service shows its operator: the status report, the HTTP endpoint and its live page, the
history behind the page's sparklines, metrics, the status line, fault requests over HTTP, and the
application's log setup; and the process's heap trim."""

from possync.actors.service._faults import fault_handler
from possync.actors.service._history import History, HistoryDocument, Sample
from possync.actors.service._http import StatusEndpoint
from possync.actors.service._logging import configure_logging
from possync.actors.service._memory import MemoryTrim
from possync.actors.service._metrics import metrics_registry, render
from possync.actors.service._status_line import LiveStatus, Terminal, summary
from possync.actors.service._status_report import StatusReport

__all__ = [
    "History",
    "HistoryDocument",
    "LiveStatus",
    "MemoryTrim",
    "Sample",
    "StatusEndpoint",
    "StatusReport",
    "Terminal",
    "configure_logging",
    "fault_handler",
    "metrics_registry",
    "render",
    "summary",
]
