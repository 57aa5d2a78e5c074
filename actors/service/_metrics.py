"""/metrics: a Prometheus collector reading the service's status document at scrape time.

Actors keep their own counters and report them in `ServiceStatus`; this collector only translates, so
/status and /metrics never disagree and no actor carries a metrics object. Each service has a registry
of its own: two trees in one process never collide.
"""

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
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
        yield _gauge("possync_degraded", "1 while /health lists reasons", float(bool(s.degraded)))
        yield from _lines(s)
        yield _gauge("possync_streams", "Active contracts with a stream", len(s.streams))
        yield _gauge(
            "possync_pnl_subscriptions", "P&L subscriptions held (no line)", s.connection.pnl_subscriptions
        )
        yield _streams_by_state(s)
        yield from _queue(s)
        yield from _lake(s)
        yield _counter("possync_reconnects", "Gateway reconnections", s.connection.reconnects)
        yield _counter("possync_pacing_delays", "Requests delayed by pacing", s.connection.pacing_delays)
        refusals = CounterMetricFamily(
            "possync_refusals", "Market-data requests refused by the gateway, by code", labels=["code"]
        )
        for code, count in sorted(s.connection.refusals.items()):
            refusals.add_metric([str(code)], count)
        yield refusals
        closed = sum(1 for stream in s.streams if stream.state == "market_closed")
        yield _gauge(
            "possync_streams_market_closed", "Streams outside their trading hours (silence expected)", closed
        )
        restarts = CounterMetricFamily("possync_restarts", "Actor restarts by supervision", labels=["actor"])
        for actor, count in sorted(s.supervision.restarts_by_actor.items()):
            restarts.add_metric([actor], count)
        yield restarts


def _lines(s: ServiceStatus) -> Iterator[Metric]:
    yield _gauge("possync_lines_in_use", "Market-data lines held (slot leases)", s.slots.in_use)
    yield _gauge("possync_lines_lent", "Lines of lines_in_use lent to snapshots now", s.slots.lent)
    yield _gauge("possync_lines_budget", "Configured market-data line budget", s.slots.budget)
    yield _gauge("possync_lines_effective", "Effective line budget after 101 refusals", s.slots.effective)
    yield _counter("possync_refusals_101", "Subscriptions refused with error 101", s.slots.refused_101)
    yield _counter("possync_leaked_slots_reclaimed", "Leaked slot leases reclaimed", s.slots.leaks_reclaimed)


def _queue(s: ServiceStatus) -> Iterator[Metric]:
    queue = s.queue
    yield _gauge("possync_queue_depth", "Positions waiting in the refresh queue", queue.depth)
    yield _gauge("possync_queue_parked", "Queued positions parked after repeated failures", queue.parked)
    oldest = "Seconds since the least recently refreshed queued position was refreshed"
    yield _gauge("possync_queue_oldest_age_seconds", oldest, queue.oldest_age_s)


def _lake(s: ServiceStatus) -> Iterator[Metric]:
    lake = s.lake
    yield _gauge("possync_lake_pending_rows", "Rows accepted but not yet committed", lake.pending_rows)
    yield _gauge("possync_lake_healthy", "1 while the lake writer is healthy", float(lake.healthy))
    yield _counter("possync_lake_rows_written", "Rows committed to the lake", lake.rows_written)
    yield _counter("possync_lake_commits", "Delta commits made by the lake writer", lake.commits)
    yield _gauge("possync_lake_commit_p50_seconds", "Median recent commit time", lake.commit_p50_s)
    yield _gauge("possync_lake_commit_p99_seconds", "p99 recent commit time", lake.commit_p99_s)
    if lake.last_commit_age_s is not None:
        age = "Seconds since the last commit that wrote rows"
        yield _gauge("possync_lake_last_commit_age_seconds", age, lake.last_commit_age_s)


STREAM_STATES = ("streaming", "subscribed", "requested", "queued", "parked", "unavailable")
"""The stream states `possync_streams_by_state` always reports (0 when none), plus any other seen."""


def _streams_by_state(s: ServiceStatus) -> GaugeMetricFamily:
    counts = Counter(stream.state for stream in s.streams)
    family = GaugeMetricFamily("possync_streams_by_state", "Active contracts by state", labels=["state"])
    for state in sorted({*STREAM_STATES, *counts}):
        family.add_metric([state], counts[state])
    return family


def metrics_registry(status: Callable[[], ServiceStatus]) -> CollectorRegistry:
    """A registry of its own holding the possync collector over `status`, and the process's standard
    metrics as `possync_process_*` (resident memory, open FDs, CPU seconds: prometheus_client's, Linux)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    ProcessCollector(namespace="possync", registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of `registry`."""
    return generate_latest(registry)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)
