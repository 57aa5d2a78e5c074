"""StreamSupervisor (tree name `STREAMS`): a DynamicSupervisor running one StreamActor per active contract.

Receives: ContractActivated, ContractDeactivated, ActiveContracts (registry); _AskRegistry,
          WriteObservations (its timers); GetActiveStreams (ask); as a DynamicSupervisor, ChildExited (its
          streams), its restart timers, StartChild / StopChild.
Sends:    SendActiveContracts → REGISTRY; WriteRows → LAKE_WRITER (every stream's rows, one message per
          `write_interval_s`); Updates → UPDATES (coalesced changes its feeds observe on that timer).
Owns:     the streams (`stream_name(conid)`, transient, one per active contract), their feeds' StreamRows,
          the rows the lake writer could not take yet, the registry retry and write timers.

It follows the registry: `ContractActivated` starts a stream (a changed priority restarts it),
`ContractDeactivated` stops it (its line is given back at once), `ActiveContracts` converges to exactly
that set, most important first. On start it asks the registry for the full set, and again every
`REGISTRY_RETRY_S` until the set arrives: after a session restart, every stream comes back from the
registry. A stream that crashes is restarted alone (one_for_one, with the spec's backoff); one that cannot
start at all is tried again with the next full set, asked for after `REGISTRY_RETRY_S`.

Every `write_interval_s` it takes the rows of all its streams' feeds and hands them to the lake writer in
one `WriteRows` (`_rows`): kept for the next interval while no lake writer runs, and handed over once more
after its streams have stopped, on every exit path.
"""

from typing import Any

import msgspec
from loguru import logger

from possync.actors import SelfTimer, tell_by_name, to_handlers
from possync.actors.names import LAKE_WRITER, REGISTRY, stream_name
from possync.actors.streaming._rows import StreamRows
from possync.actors.streaming._stream import StreamActor, StreamTemplate
from possync.messages.domain import Observation
from possync.messages.lake import WriteRows
from possync.messages.routing import (
    ActiveContract,
    ActiveContracts,
    ContractActivated,
    ContractDeactivated,
    SendActiveContracts,
)
from possync.messages.streams import ActiveStreams, GetActiveStreams, WriteObservations
from possync.supervisors import (
    ChildContext,
    ChildSpec,
    DynamicSupervisor,
    ExitReason,
    LastingLog,
    Restart,
    StartRefused,
    SupervisorSpec,
)

REGISTRY_RETRY_S = 1.0
"""How often the full active set is asked for again until the registry has sent it (an answer sent
before this supervisor's name was registered, or while the registry restarted, is lost)."""


class StreamSupervisorSpec(SupervisorSpec, frozen=True):
    """A SupervisorSpec for the StreamSupervisor, carrying what its streams share (`template`)."""

    template: StreamTemplate | None = None

    def __post_init__(self) -> None:
        """Require the template and default the actor class to StreamSupervisor, then validate as usual."""
        if self.template is None:
            raise ValueError(f"StreamSupervisorSpec {self.name!r}: template is required")
        if self.actor_class is None:
            msgspec.structs.force_setattr(self, "actor_class", StreamSupervisor)
        super().__post_init__()


class _AskRegistry(msgspec.Struct, frozen=True):
    """Timer → StreamSupervisor: ask the registry for the full active set, unless it has sent it."""


class StreamSupervisor(DynamicSupervisor):
    """Runs the streams of the active contracts (see the module docstring); ask it `GetActiveStreams`."""

    ctx: ChildContext

    def __init__(self, ctx: ChildContext, spec: StreamSupervisorSpec) -> None:
        super().__init__(ctx, spec)
        assert spec.template is not None  # checked by the spec
        self._template = spec.template
        self._active: dict[int, ActiveContract] = {}
        self._synced = False
        self._failing = LastingLog(first_s=10.0)
        self._failing_reasons: set[str] = set()
        self._rows = StreamRows()
        self._unwritten: list[Observation] = []
        self._retry = SelfTimer(ctx, self.actor_ref)
        self._write_timer = SelfTimer(ctx, self.actor_ref)

    def on_start(self) -> None:
        """Start like any supervisor, then ask the registry for the active set and start writing."""
        super().on_start()
        self._retry.arm(0.0, _AskRegistry())  # from the timer thread: usually after our name is registered
        self._write_timer.arm(self._template.write_interval_s, WriteObservations())

    def _on_exit(self, reason: ExitReason) -> None:
        """On every exit path: drop the timers, stop the streams (they hand their last rows over), then
        hand over what their feeds left."""
        self._retry.cancel()
        self._write_timer.cancel()
        super()._on_exit(reason)
        self._write()
        if self._unwritten:
            logger.error("{}: no lake writer: {} observations lost", self.ctx.name, len(self._unwritten))

    def on_receive(self, message: Any) -> Any:
        """Registry messages, `GetActiveStreams`; everything else as a DynamicSupervisor."""
        match message:
            case ContractActivated(active=active):
                self._log_refusals({active.contract.conid: self._activate(active)})
            case ContractDeactivated(conid=conid):
                self._deactivate(conid)
            case ActiveContracts(contracts=contracts):
                self._converge(contracts)
            case _AskRegistry() if not self._synced:
                self._ask_registry()
            case _AskRegistry():
                pass
            case GetActiveStreams():
                return ActiveStreams({conid: stream_name(conid) for conid in self._active})
            case WriteObservations():
                self._write()
                self._write_timer.arm(self._template.write_interval_s, message)
                return None
            case _:
                return super().on_receive(message)
        self._publish()
        return None

    def _ask_registry(self) -> None:
        tell_by_name(self.ctx, REGISTRY, SendActiveContracts())
        self._retry.arm(REGISTRY_RETRY_S, _AskRegistry())

    def _converge(self, contracts: tuple[ActiveContract, ...]) -> None:
        self._synced = True
        self._retry.cancel()
        wanted = {active.contract.conid: active for active in contracts}
        for conid in [conid for conid in self._active if conid not in wanted]:
            self._deactivate(conid)
        refused = {
            a.contract.conid: self._activate(a) for a in sorted(wanted.values(), key=lambda a: a.priority)
        }
        self._log_refusals(refused)

    def _activate(self, active: ActiveContract) -> str | None:
        """Start (or restart) the stream of `active`; why it could not start, if it could not."""
        conid = active.contract.conid
        running = self._active.get(conid)
        if running is not None and (running.contract, running.priority) == (active.contract, active.priority):
            return None
        if running is not None:
            self._remove(stream_name(conid))
        self._active[conid] = active
        spec = ChildSpec(
            stream_name(conid),
            StreamActor,
            args=(active, self._template, self._rows),
            restart=Restart.TRANSIENT,
        )
        reply = self._add(spec)
        if isinstance(reply, StartRefused):
            del self._active[conid]
            self._synced = False  # the registry's next full set starts it again
            self._retry.arm(REGISTRY_RETRY_S, _AskRegistry())
            return reply.reason
        return None

    def _log_refusals(self, refused: dict[int, str | None], complete: bool = False) -> None:
        """One line per reason for a burst of streams that could not start, repeated at growing intervals;
        `complete`: these are all the active contracts, so a reason not among them is over."""
        by_reason: dict[str, list[int]] = {}
        for conid, reason in refused.items():
            if reason is not None:
                by_reason.setdefault(reason, []).append(conid)
        for reason, conids in by_reason.items():
            self._failing.still(reason, _refusal_line(conids, reason))
        if not complete:
            self._failing_reasons.update(by_reason)
            return
        for reason in self._failing_reasons - by_reason.keys():
            self._failing.ended(reason, f"streams start again (were refused: {reason})")
        self._failing_reasons = set(by_reason)

    def _write(self) -> None:
        """Coalesced changes now due to the handlers; every feed's rows to the lake writer, in one message."""
        to_handlers(self.ctx, self._template.deliver, self._rows.due())
        self._unwritten += self._rows.take()
        if self._unwritten and tell_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(self._unwritten))):
            self._unwritten = []

    def _deactivate(self, conid: int) -> None:
        if self._active.pop(conid, None) is not None:
            self._remove(stream_name(conid))


def _refusal_line(conids: list[int], reason: str) -> str:
    """E.g. "could not start the streams of 100 contracts (265598, 8314, …): …; retrying every 1.0s"."""
    shown = ", ".join(str(conid) for conid in conids[:5]) + (", …" if len(conids) > 5 else "")
    what = (
        f"the stream of {shown}" if len(conids) == 1 else f"the streams of {len(conids)} contracts ({shown})"
    )
    return f"could not start {what}: {reason}; retrying every {REGISTRY_RETRY_S}s"
