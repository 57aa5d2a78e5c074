"""The session subtree: everything that lives and dies with one gateway connection.

    SessionSupervisor          rest_for_one, backoff with jitter, parks (and retries) when restarts pile up
    ├── ConnectionActor        CONNECTION: the gateway session; exits when it is lost
    ├── SlotAllocatorActor     SLOT_ALLOCATOR: the line budget; a fresh ledger and epoch per session
    ├── *workers               e.g. the PollerActor and ReconcilerActor (they need the connection)
    ├── StreamSupervisor       STREAMS: one StreamActor per active contract
    └── UpdateDispatcherActor  UPDATES: calls the handlers with the streamed observations (last: its
                               crash restarts nothing else)

`rest_for_one` encodes the dependencies: when the connection goes, everything after it restarts once
it is back; a crash of the allocator restarts the workers and the streams too; a stream crash restarts
that stream only. The session never escalates: with the gateway away for hours it keeps retrying,
with backoff, and parks for `backoff_max_s` whenever its restart intensity is exceeded. It starts even
when the gateway is not there (the connection may start late; the rest of the session waits for it).
"""

from possync.actors.connection import ConnectionActor
from possync.actors.outage_log import OutageLog
from possync.actors.slot_allocator import SlotAllocatorActor
from possync.actors.stream import StreamTemplate
from possync.actors.stream_handlers import StreamHandlers
from possync.actors.stream_supervisor import StreamSupervisorSpec
from possync.actors.update_dispatcher import UpdateDispatcherActor
from possync.config.settings import Settings, SupervisionSettings
from possync.messages.routing import CONNECTION, SLOT_ALLOCATOR, STREAMS, UPDATES
from possync.supervisors import Backoff, ChildSpec, OnMaxIntensity, Spec, Strategy, SupervisorSpec

SESSION = "session"
_MARGIN_S = 10.0


def session_spec(
    settings: Settings,
    handlers: StreamHandlers,
    workers: tuple[Spec, ...] = (),
    outage: OutageLog | None = None,
) -> SupervisorSpec:
    """The SessionSupervisor's spec (see the module docstring); `handlers` receive the streamed updates.

    `outage` logs failed connection attempts across restarts (one is made when None).
    """
    supervision = settings.supervision
    connect_s = settings.ib.connect_timeout_s
    connection = ChildSpec(
        CONNECTION,
        ConnectionActor,
        # a gateway silent for half a stream's limit is hung: no stream resubscribes into it
        args=(settings.ib, outage or OutageLog(), settings.streams.silent_after_s / 2),
        start_timeout_s=connect_s * 2 + _MARGIN_S,  # the last client id's attempt may take the whole timeout
        shutdown_timeout_s=_MARGIN_S,
        start_required=False,
    )
    template = StreamTemplate(
        settings.streams.silent_after_s, settings.ib.account, settings.streams.write_interval_s
    )
    streams = StreamSupervisorSpec(
        STREAMS,
        template=template,
        intensity=supervision.intensity * settings.slots.budget,  # each line may fail `intensity` times
        **_restarts(supervision),
    )
    allocator = ChildSpec(SLOT_ALLOCATOR, SlotAllocatorActor, args=(settings.slots,))
    updates = ChildSpec(UPDATES, UpdateDispatcherActor, args=(handlers,))
    return SupervisorSpec(
        SESSION,
        children=(connection, allocator, *workers, streams, updates),
        strategy=Strategy.REST_FOR_ONE,
        intensity=supervision.intensity,
        **_restarts(supervision),
    )


def backoff_from(supervision: SupervisionSettings) -> Backoff | None:
    """The restart backoff (with jitter) the settings ask for; None when `backoff_min_s` is 0."""
    if supervision.backoff_min_s > 0:
        return Backoff(supervision.backoff_min_s, supervision.backoff_max_s)
    return None


def _restarts(supervision: SupervisionSettings) -> dict[str, object]:
    """Restart window, backoff with jitter, and parking instead of escalating (a session never gives up)."""
    return {
        "period_s": supervision.period_s,
        "backoff": backoff_from(supervision),
        "on_max_intensity": OnMaxIntensity.PARK,
        "park_s": max(supervision.backoff_max_s, supervision.backoff_min_s, 0.001),
    }
