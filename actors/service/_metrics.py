"""/metrics: a Prometheus collector reading the service's status document at scrape time.

Actors keep their own counters and report them in `ServiceStatus`; this collector only translates, so
/status and /metrics never disagree and no actor carries a metrics object. Each service has a registry
of its own: two trees in one process never collide.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from possync.messages.status import ServiceStatus


class StatusCollector:
    """Yields every possync metric from one `ServiceStatus` read per scrape."""

    def __init__(self, status: Callable[[], ServiceStatus]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        """The metrics of the current status (called by prometheus_client on each scrape)."""
        s = self._status()
        yield _gauge("possync_connected", "1 while connected to the gateway", float(s.connection.connected))
        yield _gauge("possync_lines_in_use", "Market-data lines held (slot leases)", s.slots.in_use)
        yield _gauge("possync_lines_lent", "Lines of lines_in_use lent to snapshots now", s.slots.lent)
        yield _gauge("possync_lines_budget", "Configured market-data line budget", s.slots.budget)
        yield _gauge("possync_lines_effective", "Effective line budget after 101 refusals", s.slots.effective)
        yield _gauge("possync_streams", "Active contracts with a stream", len(s.streams))
        yield _gauge(
            "possync_pnl_subscriptions", "P&L subscriptions held (no line)", s.connection.pnl_subscriptions
        )
        yield _gauge("possync_queue_depth", "Positions waiting in the refresh queue", s.queue.depth)
        yield _gauge("possync_lake_pending_rows", "Rows accepted but not yet committed", s.lake.pending_rows)
        yield _counter("possync_lake_rows_written", "Rows committed to the lake", s.lake.rows_written)
        yield _counter("possync_lake_commits", "Delta commits made by the lake writer", s.lake.commits)
        yield _counter("possync_reconnects", "Gateway reconnections", s.connection.reconnects)
        yield _counter("possync_refusals_101", "Subscriptions refused with error 101", s.slots.refused_101)
        yield _counter("possync_pacing_delays", "Requests delayed by pacing", s.connection.pacing_delays)
        yield _counter(
            "possync_leaked_slots_reclaimed", "Leaked slot leases reclaimed", s.slots.leaks_reclaimed
        )
        restarts = CounterMetricFamily("possync_restarts", "Actor restarts by supervision", labels=["actor"])
        for actor, count in sorted(s.supervision.restarts_by_actor.items()):
            restarts.add_metric([actor], count)
        yield restarts


def metrics_registry(status: Callable[[], ServiceStatus]) -> CollectorRegistry:
    """A registry of its own holding the possync collector over `status`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of `registry`."""
    return generate_latest(registry)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)
