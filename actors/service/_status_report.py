"""The status document and the health reasons, built by asking each actor of the tree with one deadline.

`StatusReport(tree, settings)` subscribes to the tree's events before the tree starts (restarts by
actor, reconnects, the last connection failure) and builds a `ServiceStatus` on demand: the actors are
asked all at once and their answers awaited within `timeout_s` in total; an actor that is not running
or does not answer in time leaves its part at defaults and adds a reason to `degraded`. `/status`,
`/health`, `/metrics`, the status line and the embedding facade all read this one document.
"""

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pykka

import possync.messages.status as report
from possync.actors.gateway import describe_market_data
from possync.actors.names import CONNECTION, LAKE_WRITER, QUEUE, REGISTRY, SLOT_ALLOCATOR, STREAMS
from possync.actors.polling import shortfall
from possync.actors.service._refusal_health import competing_session
from possync.config.settings import Settings
from possync.messages.connection import ConnectionStatus, GetConnectionStatus
from possync.messages.lake import GetLakeStatus, LakeStatus
from possync.messages.lifecycle import GetParkedContracts, ParkedContract
from possync.messages.queue import GetQueueStatus, QueueStatus
from possync.messages.slots import GetSlotStatus, SlotStatus
from possync.messages.streams import (
    ActiveStreams,
    GetActiveStreams,
    GetStreamStatus,
    StreamState,
    StreamStatus,
)
from possync.supervisors import EventKind, SupervisionEvent, SupervisionTree, TreeState

ASK_TIMEOUT_S = 2.0
"""How long one status document may wait for the actors' answers, in total."""
_EXITS = frozenset({EventKind.EXITED, EventKind.START_FAILED, EventKind.STOPPED, EventKind.ABANDONED})


class SupervisionCounts:
    """What the tree's events say: restarts by actor, gateway connections, the last connection failure."""

    def __init__(self, tree: SupervisionTree) -> None:
        self._lock = threading.Lock()
        self._restarts: Counter[str] = Counter()
        self._connections = 0
        self._connection_error = ""
        self._connected_since: datetime | None = None
        self._last_exit: dict[str, str] = {}
        self._failed_under: dict[str, str] = {}  # by supervisor: its child that exited last
        tree.events.subscribe(self._on_event)

    def _on_event(self, event: SupervisionEvent) -> None:
        with self._lock:
            if event.kind is EventKind.RESTARTING:
                self._restarts[event.child] += 1
            elif event.kind in _EXITS:
                self._exited(event)
            if event.child == CONNECTION:
                self._on_connection_event(event)

    def _exited(self, event: SupervisionEvent) -> None:
        """Remember why `event.child` ended; a sibling stopped by its supervisor ended because of the child
        that exited last under that supervisor (rest_for_one, one_for_all)."""
        if event.reason:
            self._last_exit[event.child] = event.reason
            self._failed_under[event.supervisor] = event.child
        elif (failed := self._failed_under.get(event.supervisor, event.child)) != event.child:
            self._last_exit[event.child] = f"stopped by {event.supervisor} because {failed} exited"

    def _on_connection_event(self, event: SupervisionEvent) -> None:
        if event.kind is EventKind.STARTED:
            self._connections += 1
            self._connection_error = ""
            self._connected_since = datetime.now(UTC)
        elif event.kind in _EXITS:
            self._connected_since = None
            if event.kind is not EventKind.STOPPED:
                self._connection_error = event.reason

    def supervision(self) -> report.SupervisionStatus:
        """The restarts so far, in total and by actor name, with each restarted actor's last exit reason."""
        with self._lock:
            last_exit = {name: self._last_exit[name] for name in self._restarts if name in self._last_exit}
            return report.SupervisionStatus(sum(self._restarts.values()), dict(self._restarts), last_exit)

    def connected_since(self) -> datetime | None:
        """When the current gateway session started (UTC), or None."""
        with self._lock:
            return self._connected_since

    def reconnects(self) -> int:
        """Gateway connections made after the first one."""
        with self._lock:
            return max(0, self._connections - 1)

    def connection_error(self) -> str:
        """Why the last connection attempt failed or the last session ended ("" while connected)."""
        with self._lock:
            return self._connection_error


class _Answers:
    """Asks actors of the tree concurrently; collects their answers, or why there is none, by a deadline."""

    def __init__(self, tree: SupervisionTree, timeout_s: float) -> None:
        self._tree = tree
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s
        self._futures: dict[str, pykka.Future[Any]] = {}
        self.missing: dict[str, str] = {}
        self.stuck: set[str] = set()
        """Running actors that did not answer in time or failed answering (not those restarting)."""

    def ask(self, name: str, message: Any) -> None:
        """Send `message` to the actor `name` without waiting."""
        ref = self._tree.whereis(name)
        if ref is None:
            self.missing[name] = f"{name} is not running"
            return
        try:
            self._futures[name] = ref.ask(message, block=False)
        except pykka.ActorDeadError:
            self.missing[name] = f"{name} is not running"

    def get(self, name: str) -> Any:
        """The answer of `name`, or None (and the reason in `missing`)."""
        future = self._futures.pop(name, None)
        if future is None:
            return None
        try:
            return future.get(timeout=max(0.0, self._deadline - time.monotonic()))
        except pykka.Timeout:
            self.missing[name] = f"{name} did not answer within {self._timeout_s:g}s"
            self.stuck.add(name)
        except pykka.ActorDeadError:
            self.missing[name] = f"{name} stopped while answering"
        except Exception as error:  # a failure inside the actor's handler: report it here
            self.missing[name] = f"{name} failed to report its status: {error!r}"
            self.stuck.add(name)
        return None


class StatusReport:
    """Builds the `ServiceStatus` of one tree (see the module docstring)."""

    def __init__(self, tree: SupervisionTree, settings: Settings, timeout_s: float = ASK_TIMEOUT_S) -> None:
        self._tree = tree
        self._settings = settings
        self._timeout_s = timeout_s
        self.counts = SupervisionCounts(tree)

    def status(self) -> report.ServiceStatus:
        """The status document now; `degraded` lists what needs attention (empty: healthy)."""
        answers = _Answers(self._tree, self._timeout_s)
        for name, message in (
            (CONNECTION, GetConnectionStatus()),
            (SLOT_ALLOCATOR, GetSlotStatus()),
            (QUEUE, GetQueueStatus()),
            (LAKE_WRITER, GetLakeStatus()),
            (STREAMS, GetActiveStreams()),
            (REGISTRY, GetParkedContracts()),
        ):
            answers.ask(name, message)
        active: ActiveStreams | None = answers.get(STREAMS)  # first: the streams are asked before any wait
        names = active.names if active is not None else {}
        for name in names.values():
            answers.ask(name, GetStreamStatus())
        connection: ConnectionStatus | None = answers.get(CONNECTION)
        slots: SlotStatus | None = answers.get(SLOT_ALLOCATOR)
        queue: QueueStatus | None = answers.get(QUEUE)
        lake: LakeStatus | None = answers.get(LAKE_WRITER)
        streams = {conid: answers.get(name) for conid, name in names.items()}
        return report.ServiceStatus(
            connection=self._connection(connection),
            slots=self._slots(slots),
            streams=[_stream(conid, streams[conid]) for conid in sorted(streams)],
            queue=_queue(queue),
            lake=_lake(lake),
            supervision=self.counts.supervision(),
            degraded=[
                *self._reasons(connection, lake, queue, list(streams.values()), answers),
                *_parked_contracts(answers.get(REGISTRY)),
            ],
        )

    def _connection(self, status: ConnectionStatus | None) -> report.ConnectionStatus:
        ib, fallback = self._settings.ib, self._settings.streams.delayed_fallback
        return report.ConnectionStatus(
            connected=status is not None,
            host=ib.host,
            port=ib.port,
            client_id=status.client_id if status else ib.client_id,
            reconnects=self.counts.reconnects(),
            pacing_delays=status.pacing_delays if status else 0,
            last_error="" if status else self.counts.connection_error(),
            connected_since=self.counts.connected_since() if status else None,
            market_data_type=describe_market_data(ib.market_data_type, fallback),
            refusals=status.refusals if status else {},
            pnl_subscriptions=status.pnl_subscriptions if status else 0,
        )

    def _slots(self, status: SlotStatus | None) -> report.SlotStatus:
        if status is None:
            budget = self._settings.slots.budget
            return report.SlotStatus(budget=budget, effective=budget, in_use=0)
        return report.SlotStatus(
            budget=status.budget,
            effective=status.effective_budget,
            in_use=len(status.holdings),
            lent=sum(holding.lent for holding in status.holdings),
            refused_101=status.refusals,
            leaks_reclaimed=status.leaks,
        )

    def _reasons(
        self,
        connection: ConnectionStatus | None,
        lake: LakeStatus | None,
        queue: QueueStatus | None,
        streams: list[StreamStatus | None],
        answers: _Answers,
    ) -> list[str]:
        """What needs attention: the tree, the gateway, the lake, parked work, actors that did not answer."""
        reasons: list[str] = []
        missing = answers.missing
        state = self._tree.state
        if state is not TreeState.RUNNING:
            failure = self._tree.failure
            reasons.append(f"the supervision tree is {state}" + (f": {failure}" if failure else ""))
        ib = self._settings.ib
        if CONNECTION in missing:
            why = self.counts.connection_error() or missing[CONNECTION]
            reasons.append(f"not connected to the gateway at {ib.host}:{ib.port}: {why}")
        elif connection is not None and connection.suspect:
            reasons.append(f"market data may be silent: {'; '.join(connection.suspect)}")
        if lake is not None and not lake.healthy:
            reasons.append(f"lake writer: {lake.last_error}")
        if queue is not None and queue.parked:
            reasons.append(f"{len(queue.parked)} queued positions parked after repeated failures")
        if queue is not None and (behind := self._poller_shortfall(queue.size)):
            reasons.append(behind)
        parked = sorted(s.conid for s in streams if s is not None and s.state is StreamState.PARKED)
        if parked:
            reasons.append(f"the gateway refused market data for active conids {parked}")
        reasons.extend(competing_session(streams))
        others = (
            (LAKE_WRITER, QUEUE) if CONNECTION in missing else (LAKE_WRITER, QUEUE, SLOT_ALLOCATOR, STREAMS)
        )
        reasons.extend(missing[name] for name in others if name in missing)
        reasons.extend(missing[name] for name in sorted(answers.stuck - set(others)) if name != CONNECTION)
        return reasons

    def _poller_shortfall(self, size: int) -> str:
        """Why the poller cannot refresh `size` positions within queue.refresh_s, if it cannot (#14)."""
        poller = self._settings.poller
        return shortfall(size, poller.max_batch, poller.interval_s, self._settings.queue.refresh_s)


def _parked_contracts(parked: tuple[ParkedContract, ...] | None) -> list[str]:
    """One reason per active conid the gateway does not know (#14)."""
    return [
        f"active conid {p.conid} (strategy {p.strategy_id!r}) parked: {p.reason}; fix or deactivate it"
        for p in parked or ()
    ]


def _stream(conid: int, status: StreamStatus | None) -> report.StreamStatus:
    """One stream as the status document shows it: `streaming` once ticks flow."""
    if status is None:
        return report.StreamStatus(conid, "unavailable")  # restarting, or too busy to answer in time
    state = str(status.state)
    if status.state is StreamState.STREAMING and status.ticks == 0:
        state = "subscribed"  # holds a line, no tick yet
    return report.StreamStatus(
        conid,
        state,
        status.last_tick_age_s,
        symbol=status.symbol,
        strategy_id=status.strategy_id,
        priority=status.priority,
        last_price=status.market_price,
        reason=status.reason,
        ticks=status.ticks,
        data_type=str(status.data_type) if status.data_type is not None else None,
        refusal_code=status.refusal_code,
        refusal=status.refusal,
    )


def _queue(status: QueueStatus | None) -> report.QueueStatus:
    if status is None:
        return report.QueueStatus(0)
    parked = [report.ParkedPosition(p.conid, p.symbol, p.attempts, p.reason) for p in status.parked]
    return report.QueueStatus(status.size, len(parked), status.oldest_age_s, parked)


def _lake(status: LakeStatus | None) -> report.LakeStatusSummary:
    if status is None:
        return report.LakeStatusSummary(0, 0, healthy=False, last_error="the lake writer did not answer")
    return report.LakeStatusSummary(
        rows_written=status.rows_written,
        pending_rows=status.pending_rows,
        commits=status.commits,
        healthy=status.healthy,
        last_error=status.last_error,
        commit_p50_s=status.commit_p50_s,
        commit_p99_s=status.commit_p99_s,
        batch_rows_p50=status.batch_rows_p50,
        lake=status.lake,
        last_commit_age_s=status.last_commit_age_s,
    )
