"""The application tree: the storage actors, which outlive gateway outages, and the gateway session.

    AppSupervisor                APP, one_for_one, backoff; the session may come up after the tree
    ├── LakeWriterActor          LAKE_WRITER: the only writer of the lake
    ├── RegistryActor            REGISTRY: the active contracts (active_strategies)
    ├── QueueActor               QUEUE: the positions that do not stream
    └── SessionSupervisor        rest_for_one: connection, allocator, poller, reconciler, streams

The storage actors start synchronously, in order, or the tree does not start. The session starts last;
when it cannot (no gateway listening), the tree starts anyway and the AppSupervisor retries the
session with backoff until it comes up: the service runs, reports itself degraded, and writes whatever
it is told meanwhile (registry changes from the facade). Once up, the session handles its own outages.
"""

from functools import partial

from actors.lake_writer import LakeWriterActor
from actors.outage_log import OutageLog
from actors.poller import PollerActor
from actors.queue import QueueActor
from actors.reconciler import ReconcilerActor
from actors.registry import RegistryActor
from actors.session import session_spec
from actors.stream_handlers import StreamHandlers
from config.settings import LakeSettings, Settings
from messages.domain import Observation
from messages.lake import RowsAccepted, WriteRows
from messages.poller import RECONCILER
from messages.routing import LAKE_WRITER, POLLER, QUEUE, REGISTRY
from supervisors.actor import ChildContext
from supervisors.errors import StartFailure
from supervisors.events import EventKind
from supervisors.spec import Backoff, ChildSpec, SupervisorSpec
from supervisors.supervisor import Supervisor, _Child

APP = "possync"
"""The name of the root supervisor."""

LAKE_START_TIMEOUT_S = 60.0
"""The lake writer replays its journal on start: a long outage of the lake makes a long journal."""

MIN_RETRY_S = 0.1
"""The shortest delay between two attempts to start the session, even with `backoff_min_s = 0`."""


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


class AppSupervisor(Supervisor):
    """A Supervisor whose last child (the session) may start after the supervisor (module docstring)."""

    def on_start(self) -> None:
        """Start every child but the last in order (or fail); start the last, or retry it with backoff."""
        *required, late = self._children.values()
        for child in self._children.values():
            self.tree.names.claim(child.name, self.name)
        for child in required:
            reason = self._start(child)
            if reason is not None:
                raise StartFailure(f"supervisor {self.name!r} could not start child {child.name!r}: {reason}")
        self._start_late(late)
        self._publish()

    def _start_late(self, child: _Child) -> None:
        """Start `child`, or schedule the next attempt after the backoff delay."""
        if self._start(child) is None:
            return
        delay_s = max(MIN_RETRY_S, self._backoff_delay(child))
        self._schedule(delay_s, partial(self._start_late, child))
        self._record(EventKind.BACKOFF, child, delay_s=delay_s)


def app_spec(
    settings: Settings, updates: StreamHandlers, observations: StreamHandlers, outage: OutageLog
) -> SupervisorSpec:
    """The application tree (module docstring).

    `updates` receive the streamed observations, `observations` every observation the lake writer
    accepts; `outage` logs failed connection attempts across session restarts.
    """
    supervision = settings.supervision
    poller = ChildSpec(POLLER, PollerActor, args=(settings.poller,))
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
        backoff=Backoff(
            max(MIN_RETRY_S, supervision.backoff_min_s), max(MIN_RETRY_S, supervision.backoff_max_s)
        ),
        actor_class=AppSupervisor,
    )
