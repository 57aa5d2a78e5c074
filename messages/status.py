"""The service's status document: what `GET /status`, `run.py status` and the facade report.

Fields are only ever added, each with a default, so an older reader (or the status page) keeps working.
"""

from datetime import datetime

import msgspec


class ConnectionStatus(msgspec.Struct, frozen=True):
    """The gateway connection."""

    connected: bool
    host: str = ""
    port: int = 0
    client_id: int = 0
    reconnects: int = 0
    pacing_delays: int = 0
    last_error: str = ""
    connected_since: datetime | None = None
    """When the current session connected (UTC); None while not connected."""
    market_data_type: str = ""
    """What the connection asks the gateway for (`ib.market_data_type`, `streams.delayed_fallback`), e.g.
    "live (delayed where not permitted)"; each row's `data_type` says what it got."""
    refusals: dict[int, int] = {}
    """Market-data requests (lines, snapshots) the gateway refused this session, by error code."""
    pnl_subscriptions: int = 0
    """P&L subscriptions held (reqPnLSingle, one per valued position; they use no line)."""


class SlotStatus(msgspec.Struct, frozen=True):
    """The market-data line budget."""

    budget: int
    effective: int
    in_use: int
    refused_101: int = 0
    leaks_reclaimed: int = 0
    lent: int = 0
    """Lines of `in_use` lent to the poller's snapshots right now."""


class StreamStatus(msgspec.Struct, frozen=True):
    """One active contract's stream: `state` is `streaming` once ticks flow; `reason` says why it is
    queued or parked; `ticks` counts the ticks of this stream incarnation (a restart starts again at 0)."""

    conid: int
    state: str
    last_tick_age_s: float | None = None
    symbol: str = ""
    strategy_id: str = ""
    priority: int = 0
    last_price: float | None = None
    reason: str = ""
    ticks: int = 0

    data_type: str | None = None
    """What kind of data the line serves: live, frozen, delayed, delayed_frozen (None before a tick)."""
    refusal_code: int | None = None
    """When not streaming: the code of the gateway's last refusal of its market data (None: none)."""
    refusal: str = ""
    """That refusal's text."""


class ParkedPosition(msgspec.Struct, frozen=True):
    """A queued position parked after repeated failures, and the reason of the last one."""

    conid: int
    symbol: str
    attempts: int
    reason: str


class QueueStatus(msgspec.Struct, frozen=True):
    """The refresh queue of non-streaming positions: `oldest_age_s` since the least recently refreshed one
    was refreshed; `parked_items` the parked ones with their reasons."""

    depth: int
    parked: int = 0
    oldest_age_s: float = 0.0
    parked_items: list[ParkedPosition] = []


class LakeStatusSummary(msgspec.Struct, frozen=True):
    """The lake writer."""

    rows_written: int
    pending_rows: int
    commits: int = 0
    healthy: bool = True
    last_error: str = ""
    commit_p50_s: float = 0.0
    """Median time of the writer's recent commits (adaptive batching grows batches when it is high)."""
    commit_p99_s: float = 0.0
    batch_rows_p50: int = 0
    """Median rows per recent commit."""
    lake: str = ""
    """Where the lake is (credentials redacted)."""
    last_commit_age_s: float | None = None
    """Seconds since the last commit that wrote rows; None before the first."""


class SupervisionStatus(msgspec.Struct, frozen=True):
    """Restarts made by the supervisors, in total and by actor name."""

    restarts: int
    restarts_by_actor: dict[str, int] = {}
    last_exit_by_actor: dict[str, str] = {}
    """Why each restarted actor last exited."""


class ServiceStatus(msgspec.Struct, frozen=True):
    """Everything the service reports about itself."""

    connection: ConnectionStatus
    slots: SlotStatus
    streams: list[StreamStatus]
    queue: QueueStatus
    lake: LakeStatusSummary
    supervision: SupervisionStatus
    degraded: list[str] = []
