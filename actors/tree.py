"""The whole application tree, in one place: which actors run, under which supervisor, in which order.

    AppSupervisor (APP)          one_for_one, backoff; storage first, the gateway session last
    ├── LakeWriterActor          LAKE_WRITER: every row the service writes; batches; exactly-once
    ├── RegistryActor            REGISTRY: the active contracts (active_strategies)
    ├── QueueActor               QUEUE: the positions that do not stream
    └── SessionSupervisor        SESSION: rest_for_one, backoff with jitter, parks instead of escalating
        ├── ConnectionActor      CONNECTION: the gateway session; exits when it is lost
        ├── SlotAllocatorActor   SLOT_ALLOCATOR: the line budget; a fresh ledger and epoch per session
        ├── PollerActor          POLLER: refreshes due queue items without a line (or a lent one)
        ├── ReconcilerActor      RECONCILER: compares the gateway's positions with the lake
        ├── PnlActor             PNL: writes the P&L channel's changed values in batches (when pnl.enabled)
        ├── StreamSupervisor     STREAMS: one StreamActor per active contract
        └── UpdateDispatcher     UPDATES: calls the on_update handlers (last: its crash restarts nothing else)

The storage actors start synchronously, in order, or the tree does not start; they outlive gateway
outages, so nothing waiting to be written is dropped. The session starts last, also when no gateway is
listening: its connection may start late and is retried with backoff, so the service runs, reports
itself degraded, and writes whatever it is told meanwhile. `rest_for_one` encodes the dependencies: when
the connection goes, everything after it restarts once it is back; a crash of the allocator restarts the
workers and the streams too; a stream crash restarts that stream only. The session never escalates: with
the gateway away for hours it keeps retrying, and parks for `backoff_max_s` whenever its restart
intensity is exceeded.

Every spec here is plain data (`supervisors.ChildSpec` / `SupervisorSpec`); the supervisors keep the
restart bookkeeping.
"""

from collections.abc import Callable
from functools import partial
from pathlib import Path

import msgspec

from possync.actors.gateway import ConnectionActor, OutageLog
from possync.actors.lake import LakeWriterActor, location_of
from possync.actors.names import (
    APP,
    CONNECTION,
    LAKE_WRITER,
    PNL,
    POLLER,
    QUEUE,
    RECONCILER,
    REGISTRY,
    SESSION,
    SLOT_ALLOCATOR,
    STREAMS,
    UPDATES,
)
from possync.actors.polling import PnlActor, PollerActor, QueueActor, ReconcilerActor, identity_of
from possync.actors.registry import RegistryActor
from possync.actors.streaming import (
    SlotAllocatorActor,
    StreamHandlers,
    StreamSupervisorSpec,
    StreamTemplate,
    UpdateDispatcherActor,
)
from possync.config.settings import QueueSettings, Settings, SupervisionSettings
from possync.messages.domain import Observation
from possync.messages.lake import LakeRow
from possync.supervisors import Backoff, ChildSpec, OnMaxIntensity, Spec, Strategy, SupervisorSpec

LAKE_START_TIMEOUT_S = 60.0
"""The lake writer replays its journal on start: a long outage of the lake makes a long journal."""
_MARGIN_S = 10.0


def app_spec(
    settings: Settings, updates: StreamHandlers, observations: StreamHandlers, outage: OutageLog
) -> SupervisorSpec:
    """The application tree (module docstring).

    `updates` receive the streamed observations, `observations` every observation the lake writer
    accepts; `outage` logs failed connection attempts across session restarts.
    """
    supervision = settings.supervision
    writer = ChildSpec(
        LAKE_WRITER,
        LakeWriterActor,
        args=(settings.lake,),
        kwargs={"on_accepted": _observations_to(observations)},
        start_timeout_s=LAKE_START_TIMEOUT_S,
    )
    return SupervisorSpec(
        APP,
        children=(
            writer,
            ChildSpec(
                REGISTRY,
                RegistryActor,
                args=(location_of(settings.lake), settings.registry),
                kwargs={"account": settings.ib.account},
            ),
            _queue(settings),
            session_spec(settings, updates, workers=_workers(settings), outage=outage),
        ),
        intensity=supervision.intensity,
        period_s=supervision.period_s,
        backoff=backoff_from(supervision),
    )


def session_spec(
    settings: Settings,
    handlers: StreamHandlers,
    workers: tuple[Spec, ...] = (),
    outage: OutageLog | None = None,
) -> SupervisorSpec:
    """The SessionSupervisor's spec (module docstring); `handlers` receive the streamed updates.

    `workers` run between the allocator and the streams (the poller and the reconciler in the service);
    `outage` logs failed connection attempts across restarts (one is made when None).
    """
    supervision = settings.supervision
    connect_s = settings.ib.connect_timeout_s
    connection = ChildSpec(
        CONNECTION,
        ConnectionActor,
        # a gateway silent for half a stream's limit is hung: no stream resubscribes into it
        args=(settings.ib, outage or OutageLog(), settings.streams.silent_after_s / 2),
        kwargs={
            "delayed_fallback": settings.streams.delayed_fallback,
            "pnl": settings.pnl,
            "deliver": handlers.deliver,
        },
        start_timeout_s=connect_s * 2 + _MARGIN_S,  # the last client id's attempt may take the whole timeout
        shutdown_timeout_s=_MARGIN_S,
        start_required=False,
    )
    streams_settings = settings.streams
    template = StreamTemplate(
        streams_settings.silent_after_s,
        settings.ib.account,
        streams_settings.write_interval_s,
        streams_settings.refused_retry_s,
        streams_settings.competing_retry_s,
        streams_settings.competing_retry_max_s,
        min_row_interval_s=streams_settings.min_row_interval_s,
        deliver=handlers.deliver,
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


def queue_settings(settings: Settings) -> QueueSettings:
    """The queue's settings with its state file resolved: "" means `<lake.local_dir>/_state/queue.msgpack`."""
    queue = settings.queue
    if queue.state_file:
        return queue
    state = location_of(settings.lake).local_dir / "_state" / "queue.msgpack"
    return msgspec.structs.replace(queue, state_file=str(state))


def backoff_from(supervision: SupervisionSettings) -> Backoff | None:
    """The restart backoff (with jitter) the settings ask for; None when `backoff_min_s` is 0."""
    if supervision.backoff_min_s > 0:
        return Backoff(supervision.backoff_min_s, supervision.backoff_max_s)
    return None


def _queue(settings: Settings) -> ChildSpec:
    """The queue, its state file next to its lake, recording that lake and the gateway (#14)."""
    ib = settings.ib
    identify = partial(identity_of, settings.lake.root, ib.host, ib.port, ib.account)
    queue = queue_settings(settings)
    kwargs = {"state_file": Path(queue.state_file), "identify": identify}
    return ChildSpec(QUEUE, QueueActor, args=(queue,), kwargs=kwargs)


def _workers(settings: Settings) -> tuple[Spec, ...]:
    """The session's workers: the poller, the reconciler and the P&L writer (all need the connection)."""
    poller = ChildSpec(POLLER, PollerActor, args=(settings.poller, settings.ib.account))
    reconciler = ChildSpec(
        RECONCILER,
        ReconcilerActor,
        args=(
            location_of(settings.lake),
            settings.poller.reconcile_interval_s,
            settings.poller.request_timeout_s,
        ),
    )
    pnl = ChildSpec(PNL, PnlActor, args=(settings.pnl,))
    return (poller, reconciler, pnl) if settings.pnl.enabled else (poller, reconciler)


def _observations_to(handlers: StreamHandlers) -> Callable[[tuple[LakeRow, ...]], None]:
    """The lake writer's `on_accepted`: every accepted observation to `handlers`."""

    def dispatch(rows: tuple[LakeRow, ...]) -> None:
        for row in rows:
            if isinstance(row, Observation):
                handlers.dispatch(row)

    return dispatch


def _restarts(supervision: SupervisionSettings) -> dict[str, object]:
    """Restart window, backoff with jitter, and parking instead of escalating (a session never gives up)."""
    return {
        "period_s": supervision.period_s,
        "backoff": backoff_from(supervision),
        "on_max_intensity": OnMaxIntensity.PARK,
        "park_s": max(supervision.backoff_max_s, supervision.backoff_min_s, 0.001),
    }
