"""The typed settings: one frozen msgspec Struct per config section; `Settings()` is the built-in default.

To add a key, add one annotated field with its default here and document it in `config/default.toml`;
the loader, the environment overrides and the error messages follow from the field's type.
"""

from typing import Annotated, Literal

import msgspec
from msgspec.structs import force_setattr

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PortOrOff = Annotated[int, msgspec.Meta(ge=0, le=65535)]
Count = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeSeconds = Annotated[float, msgspec.Meta(ge=0)]
NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
PerSecond = Annotated[float, msgspec.Meta(gt=0)]

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


class InvalidSetting(ValueError):
    """A rule no field type can express failed; names the field, its value and what is allowed."""

    def __init__(self, key: str, value: object, rule: str) -> None:
        super().__init__(f"{key} = {value!r}: {rule}")
        self.key = key
        self.value = value
        self.rule = rule


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every section (subclasses inherit both options): immutable, and an unknown key is an error."""


class IbSettings(Section):
    """How to reach IB Gateway / TWS."""

    host: NonEmptyStr = "127.0.0.1"
    port: Port = 4002
    client_id: NonNegativeInt = 17
    account: str = ""
    connect_timeout_s: Seconds = 10.0
    readonly: bool = True
    pacing_per_s: PerSecond = 45.0  # requests per second to the gateway (IB allows 50: error 100 beyond)
    lost_grace_s: Seconds = 30.0  # how long a 1100 (IB connectivity lost) may last before reconnecting
    hung_reconnect_s: Seconds = 180.0  # a gateway that answers nothing, not even a ping, this long: reconnect
    client: Literal["ib_insync", "ib_async"] = "ib_insync"  # the IB client library
    market_data_type: Literal["live", "frozen", "delayed", "delayed_frozen"] = "live"  # reqMarketDataType


class SlotSettings(Section):
    """The market-data line budget possync may use."""

    budget: Count = 90
    preempt: bool = True  # a more important active contract takes the line of the least important one
    regrow_s: Seconds = 60.0  # after a 101 refusal, the budget grows back by one line this often
    reconcile_s: Seconds = 30.0  # how often the lines held are checked against live streams


class StreamSettings(Section):
    """The real-time streams of active contracts."""

    silent_after_s: Seconds = 120.0  # a stream without a tick this long (feeds healthy) is resubscribed
    write_interval_s: Seconds = 0.5  # all streams' observations go to the lake writer this often, one message
    delayed_fallback: bool = True  # no live permission: delayed data where the gateway has it
    refused_retry_s: Seconds = 3600.0  # a stream refused for lack of permission is tried again this often
    competing_retry_s: Seconds = 5.0  # first wait of a stream silenced by a competing session (10197)
    competing_retry_max_s: Seconds = 300.0  # that wait doubles up to this
    min_row_interval_s: NonNegativeSeconds = 0.25  # one row per stream this often at most; 0: all


class PollerSettings(Section):
    """Batch refresh of positions that do not stream."""

    interval_s: Seconds = 5.0
    batch_size: Count = 50
    request_timeout_s: Seconds = 10.0  # wait for the gateway's answer to one batch; a timeout is never "flat"
    snapshot_lines: NonNegativeInt = 5  # lines a cycle may borrow for snapshots (only free ones); 0: never
    reconcile_interval_s: Seconds = 60.0  # how often the gateway's positions are compared with the lake
    max_batch: Count = 5000  # positions one cycle refreshes at most (the batch grows with the queue)


class QueueSettings(Section):
    """Scheduling of the positions that do not stream: refresh, backoff, parking, and the state file."""

    refresh_s: Seconds = 60.0  # after a successful refresh, a position is due again this much later
    max_attempts: Count = 5  # consecutive failures after which a position is parked with its reason
    backoff_min_s: Seconds = 5.0  # delay after a first failure; doubles with each further one
    backoff_max_s: Seconds = 300.0  # cap of that delay
    park_s: Seconds = 3600.0  # a parked position is tried again after this long
    lease_s: Seconds = 30.0  # a position handed to the poller and not answered is due again after this
    state_file: str = ""  # the queue's own state across restarts; "": <lake.local_dir>/_state/queue.msgpack
    save_interval_s: Seconds = 1.0  # the state file is saved at most this long after a change


class RegistrySettings(Section):
    """The active-strategies registry."""

    refresh_interval_s: Seconds = 1.0  # how often active_strategies is checked for the CLI's changes


class LakeSettings(Section):
    """Where and how often observations are written to Delta Lake."""

    root: NonEmptyStr = "lake"  # a directory, or an object-store URI (s3://bucket/prefix, gs://, az://, ...)
    flush_interval_s: Seconds = 1.0
    flush_rows: Count = 5000
    local_dir: str = ""  # the journal; "": <root> (local lake), ./possync-state/<bucket_prefix> (else)
    maintenance: Literal["auto", "off"] = "auto"  # compaction/checkpoints/vacuum here (one writer at a time)
    compact_every_commits: Count = 50  # a table is compacted and checkpointed after this many own commits
    maintenance_lease_s: Seconds = 600.0  # a lease not renewed this long is free for another writer
    max_commit_retries: Count = 30  # delta-rs retries of a commit that lost a race with another writer
    storage_options: dict[str, str] = {}  # passed to every Delta read and write (endpoint, region, keys, ...)


class PnlSettings(Section):
    """The P&L channel: reqPnLSingle per held position (no market-data line)."""

    enabled: bool = True
    max_subscriptions: NonNegativeInt = (
        500  # reqPnLSingle subscriptions held at most (one per account, conid)
    )
    write_interval_s: Seconds = 5.0  # changed P&L values go to the lake this often (the latest per position)


class MemorySettings(Section):
    """The process's heap."""

    trim_interval_s: NonNegativeSeconds = 60.0  # give freed heap pages back to the OS this often; 0: never


class HttpSettings(Section):
    """The loopback status endpoint (/health, /status, /metrics, and POST /faults when `faults`)."""

    host: NonEmptyStr = "127.0.0.1"
    port: PortOrOff = 8765
    faults: bool = False


class SupervisionSettings(Section):
    """Restart limits and backoff of the supervisors."""

    intensity: NonNegativeInt = 5
    period_s: Seconds = 30.0
    backoff_min_s: NonNegativeSeconds = 0.5
    backoff_max_s: NonNegativeSeconds = 30.0

    def __post_init__(self) -> None:
        """Reject a backoff range whose minimum exceeds its maximum."""
        if self.backoff_min_s > self.backoff_max_s:
            raise InvalidSetting(
                "backoff_min_s", self.backoff_min_s, f"must be <= backoff_max_s ({self.backoff_max_s})"
            )


class LogSettings(Section):
    """Logging; `level` is case-insensitive and stored upper-case."""

    level: str = "INFO"
    json: bool = False

    def __post_init__(self) -> None:
        """Normalise `level` to upper case and reject a level loguru does not know."""
        if self.level.upper() not in LOG_LEVELS:
            raise InvalidSetting("level", self.level, f"must be one of {', '.join(LOG_LEVELS)}")
        force_setattr(self, "level", self.level.upper())


class Settings(Section):
    """All settings of possync, one field per config section."""

    ib: IbSettings = IbSettings()
    slots: SlotSettings = SlotSettings()
    poller: PollerSettings = PollerSettings()
    lake: LakeSettings = LakeSettings()
    http: HttpSettings = HttpSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    log: LogSettings = LogSettings()
    queue: QueueSettings = QueueSettings()
    registry: RegistrySettings = RegistrySettings()
    streams: StreamSettings = StreamSettings()
    pnl: PnlSettings = PnlSettings()
    memory: MemorySettings = MemorySettings()
