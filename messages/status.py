"""The service's status document: what `GET /status`, `run.py status` and the facade report."""

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
    """One active contract's stream: `state` is `streaming` once ticks flow."""

    conid: int
    state: str
    last_tick_age_s: float | None = None


class QueueStatus(msgspec.Struct, frozen=True):
    """The refresh queue of non-streaming positions."""

    depth: int
    parked: int = 0


class LakeStatusSummary(msgspec.Struct, frozen=True):
    """The lake writer."""

    rows_written: int
    pending_rows: int
    commits: int = 0
    healthy: bool = True
    last_error: str = ""


class SupervisionStatus(msgspec.Struct, frozen=True):
    """Restarts made by the supervisors, in total and by actor name."""

    restarts: int
    restarts_by_actor: dict[str, int] = {}


class ServiceStatus(msgspec.Struct, frozen=True):
    """Everything the service reports about itself."""

    connection: ConnectionStatus
    slots: SlotStatus
    streams: list[StreamStatus]
    queue: QueueStatus
    lake: LakeStatusSummary
    supervision: SupervisionStatus
    degraded: list[str] = []
