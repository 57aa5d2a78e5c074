"""The application tree: the storage actors, which outlive gateway outages, and the gateway session.

    AppSupervisor                APP, one_for_one, backoff; the session may come up after the tree
    ├── LakeWriterActor          LAKE_WRITER: the only writer of the lake
    ├── RegistryActor            REGISTRY: the active contracts (active_strategies)
    ├── QueueActor               QUEUE: the positions that do not stream
    └── SessionSupervisor        rest_for_one: connection, allocator, poller, reconciler, streams

The storage actors start synchronously, in order, or the tree does not start. The session starts last,
also when no gateway is listening: its connection may start late and is retried with backoff, so the
service runs, reports itself degraded, and writes whatever it is told meanwhile (registry changes from
the facade). The session handles its own outages.
"""

from possync.actors.lake_writer import LakeWriterActor
from possync.actors.outage_log import OutageLog
from possync.actors.poller import PollerActor
from possync.actors.queue import QueueActor
from possync.actors.reconciler import ReconcilerActor
from possync.actors.registry import RegistryActor
from possync.actors.session import backoff_from, session_spec
from possync.actors.stream_handlers import StreamHandlers
from possync.config.settings import LakeSettings, Settings
from possync.messages.domain import Observation
from possync.messages.lake import RowsAccepted, WriteRows
from possync.messages.poller import RECONCILER
from possync.messages.routing import LAKE_WRITER, POLLER, QUEUE, REGISTRY
from possync.supervisors.actor import ChildContext
from possync.supervisors.spec import ChildSpec, SupervisorSpec

APP = "possync"
"""The name of the root supervisor."""

LAKE_START_TIMEOUT_S = 60.0
"""The lake writer replays its journal on start: a long outage of the lake makes a long journal."""


class ObservedLakeWriter(LakeWriterActor):
    """The lake writer, also handing every observation it accepts to `handlers` (in its own thread)."""

    def __init__(self, ctx: ChildContext | None, settings: LakeSettings, handlers: StreamHandlers) -> None:
        super().__init__(ctx, settings)
        self._handlers = handlers

    def on_receive(self, message: object) -> object:
        """As the lake writer; then, once `WriteRows` is accepted, dispatch its observations."""
        reply = super().on_receive(message)
        if isinstance(message, WriteRows) and isinstance(reply, RowsAccepted):
            for row in message.rows:
                if isinstance(row, Observation):
                    self._handlers.dispatch(row)
        return reply


def app_spec(
    settings: Settings, updates: StreamHandlers, observations: StreamHandlers, outage: OutageLog
) -> SupervisorSpec:
    """The application tree (module docstring).

    `updates` receive the streamed observations, `observations` every observation the lake writer
    accepts; `outage` logs failed connection attempts across session restarts.
    """
    supervision = settings.supervision
    poller = ChildSpec(POLLER, PollerActor, args=(settings.poller, settings.ib.account))
    reconciler = ChildSpec(
        RECONCILER,
        ReconcilerActor,
        args=(settings.lake.root, settings.poller.reconcile_interval_s, settings.poller.request_timeout_s),
    )
    return SupervisorSpec(
        APP,
        children=(
            ChildSpec(
                LAKE_WRITER,
                ObservedLakeWriter,
                args=(settings.lake, observations),
                start_timeout_s=LAKE_START_TIMEOUT_S,
            ),
            ChildSpec(REGISTRY, RegistryActor, args=(settings.lake.root, settings.registry)),
            ChildSpec(QUEUE, QueueActor, args=(settings.queue,)),
            session_spec(settings, updates, workers=(poller, reconciler), outage=outage),
        ),
        intensity=supervision.intensity,
        period_s=supervision.period_s,
        backoff=backoff_from(supervision),
    )
