"""RegistryActor: the active contracts, in memory and in `active_strategies` (shared with the CLI).

Receives: Activate, Deactivate (ask: facade); GetActiveContracts (ask: queue), IsActive (ask);
          SendActiveContracts (STREAMS); RefreshRegistry (its timer); ContractDescribed (connection);
          GetParkedContracts (ask: status report).
Sends:    WriteRows (ask) → LAKE_WRITER; ContractActivated, ContractDeactivated, ActiveContracts → STREAMS;
          ContractDeactivated → QUEUE; DescribeContract → CONNECTION.
Owns:     the active set (in memory), a reader of `active_strategies` (`StrategyLog`), its own changes
          until the table shows them, its refresh timer.

On start it restores the active set from the table and tells the streaming side the full set. Every
`registry.refresh_interval_s` it checks the table version (one small log read) and, when another
process (the CLI) appended changes, applies them and tells STREAMS the activations and deactivations
(and the QUEUE the deactivations, so those positions are polled again). Its own changes go through the
lake writer and apply at once; until the writer has committed them they are laid over what the table
says, so nothing flips back meanwhile. It never writes the table itself: the CLI appends its changes
directly (`_store.append_change`).

Rows lacking contract fields (an activation by conid alone) get them from the lake's latest positions,
else from the gateway: the connection describes the conid (contract details, paced, cached) and the
registry appends the completed row, so the contract streams with every field. Until then it stays
inactive (asked again every `DESCRIBE_RETRY_S` while the gateway is away). A conid the gateway does not
know (200) is parked with the gateway's words, reported once (log, `/status`, `/health`) and never asked
again until the registry changes for it. A garbage row is reported once and skipped. In a fleet, only the rows
addressed to this service's account (or to every service) apply.
"""

from datetime import datetime
from pathlib import Path

import msgspec
from loguru import logger

from possync.actors import TreeActor, Unavailable, ask_by_name, tell_by_name
from possync.actors.lake import LakeLocation, latest_contracts
from possync.actors.names import CONNECTION, LAKE_WRITER, QUEUE, STREAMS
from possync.actors.registry._store import StrategyLog, activation, addressed_to, latest_per_conid
from possync.config.settings import RegistrySettings
from possync.messages.domain import Contract, utc_now
from possync.messages.lake import RowsAccepted, StrategyChange, WriteRows
from possync.messages.lifecycle import ContractDescribed, DescribeContract, GetParkedContracts, ParkedContract
from possync.messages.registry import (
    Activate,
    ChangeAccepted,
    ChangeRefused,
    Deactivate,
    GetActiveContracts,
    IsActive,
    RefreshRegistry,
)
from possync.messages.routing import (
    ActiveContract,
    ActiveContracts,
    ContractActivated,
    ContractDeactivated,
    SendActiveContracts,
)
from possync.supervisors import ChildContext

CHANGED_BY = "possync-service"
RESOLVE_RETRY_S = 30.0
"""How often activations of conids unknown to the lake are looked up again."""
DESCRIBE_RETRY_S = 2.0
"""How often the gateway is asked again to describe a conid it has not answered about (not running yet)."""


class _CompleteRow(msgspec.Struct, frozen=True):
    """Registry → itself: append the full fields of `conid`'s activation (not from inside `_apply`)."""

    conid: int


class RegistryActor(TreeActor):
    """The active contracts: `is_active` lookups, persistence, and the streaming side kept in step."""

    def __init__(
        self,
        ctx: ChildContext,
        lake_root: str | Path | LakeLocation,
        settings: RegistrySettings,
        write_timeout_s: float = 5.0,
        account: str = "",
    ) -> None:
        """`account`: the service's account (`ib.account`); "" applies every row (all accounts)."""
        super().__init__(ctx)
        self._root = LakeLocation.of(lake_root)
        self._account = account
        self._latest: dict[int, StrategyChange] = {}
        self._log_error = False
        self._settings = settings
        self._write_timeout_s = write_timeout_s
        self._log = StrategyLog(self._root)
        self._version: int | None = None
        self._logged: list[StrategyChange] = []
        self._own: dict[tuple[int, datetime], StrategyChange] = {}
        self._active: dict[int, ActiveContract] = {}
        self._unresolved: set[int] = set()
        self._described: dict[int, Contract] = {}
        self._parked: dict[int, tuple[datetime, ParkedContract]] = {}  # by conid: the change it is about
        self._reported: set[str] = set()
        self._retry_at = 0.0
        self._announced = False  # until the full set is sent on start, changes are not told one by one

    def on_start(self) -> None:
        """Restore the active set, tell the streaming side all of it, and start watching the table."""
        self._refresh(force=True)
        self._announced = True
        self._send_all()
        self.timer.arm(self._settings.refresh_interval_s, RefreshRegistry())

    def on_receive(self, message: object) -> object:
        """Dispatch one message (see the module docstring)."""
        match message:
            case RefreshRegistry():
                self._refresh(force=False)
                self.timer.arm(self._settings.refresh_interval_s, message)
            case SendActiveContracts():
                self._send_all()
            case IsActive(conid=conid):
                return conid in self._active
            case GetActiveContracts():
                return ActiveContracts(tuple(self._active.values()))
            case Activate():
                return self._activate(message)
            case Deactivate(conid=conid):
                return self._deactivate(conid)
            case ContractDescribed():
                self._on_described(message)
            case _CompleteRow(conid=conid):
                self._complete_row(conid)
            case GetParkedContracts():
                return tuple(parked for _, parked in self._parked.values())
            case _:
                logger.warning("registry: ignored unexpected message {!r}", message)
        return None

    def _activate(self, request: Activate) -> ChangeAccepted | ChangeRefused:
        known = next(
            (c for c in self._logged if c.contract.conid == request.conid and c.contract.symbol), None
        )
        contract = request.contract or (known.contract if known else None)
        change = activation(
            self._root,
            request.conid,
            request.strategy_id,
            request.priority,
            CHANGED_BY,
            contract,
            self._account,
        )
        return self._write(change)

    def _deactivate(self, conid: int) -> ChangeAccepted | ChangeRefused:
        current = self._active.get(conid) or self._waiting(conid)
        if current is None:
            return ChangeRefused(f"conid {conid} is not active")
        source = self._latest.get(conid)
        change = StrategyChange(
            current.contract,
            current.strategy_id,
            current.priority,
            False,
            utc_now(),
            CHANGED_BY,
            source.account if source is not None else self._account,
        )
        return self._write(change)

    def _waiting(self, conid: int) -> ActiveContract | None:
        """An activation not yet streaming because the gateway has not described the conid (or parked it)."""
        if conid not in self._unresolved:
            return None
        change = latest_per_conid([*self._logged, *self._own.values()]).get(conid)
        return ActiveContract(change.contract, change.strategy_id, change.priority) if change else None

    def _write(self, change: StrategyChange) -> ChangeAccepted | ChangeRefused:
        """Hand the change to the lake writer; once it holds it, apply it here at once."""
        try:
            reply = ask_by_name(self.ctx, LAKE_WRITER, WriteRows((change,)), self._write_timeout_s)
        except Unavailable as error:
            return ChangeRefused(f"not recorded, try again: {error}")
        if not isinstance(reply, RowsAccepted):
            return ChangeRefused(f"the lake writer refused the change: {getattr(reply, 'reason', reply)}")
        self._own[(change.contract.conid, change.changed_ts)] = change
        self._apply()
        return ChangeAccepted()

    def _refresh(self, force: bool) -> None:
        """Re-read the table if its version moved (or `force`) and apply; retry unknown conids at times."""
        try:
            version = self._log.version()
            if force or version != self._version:
                logged, garbage = self._log.read()
        except Exception as error:  # the lake unreachable: keep the active set, look again next time
            self._unreadable(error)
            return
        if self._log_error:
            logger.info("registry: active_strategies readable again")
            self._log_error = False
        if force or version != self._version:
            self._version, self._logged = version, logged
            for description in garbage:
                self._report(f"active_strategies: skipped a bad row ({description})")
            seen = {(c.contract.conid, c.changed_ts) for c in self._logged}
            self._own = {key: change for key, change in self._own.items() if key not in seen}
        elif not (self._unresolved and self.now() >= self._retry_at):
            return
        self._apply()

    def _unreadable(self, error: Exception) -> None:
        """Report (once per outage) that the table cannot be read; reopen it next time."""
        if not self._log_error:
            why = self._root.redact(str(error))
            logger.warning("registry: cannot read active_strategies, the active set is kept: {}", why)
        self._log_error = True
        self._log = StrategyLog(self._root)

    def _apply(self) -> None:
        """Recompute the active set from the log and our pending changes; tell the streaming side the diff."""
        changes = [*self._logged, *self._own.values()]
        latest = latest_per_conid(c for c in changes if addressed_to(c, self._account))
        self._latest = latest
        wanted = [c for c in latest.values() if c.active]
        missing = [c.contract.conid for c in wanted if not (c.contract.symbol and c.contract.sec_type)]
        try:
            looked_up = latest_contracts(self._root, missing) if missing else {}
        except Exception as error:  # the lake unreachable: they stay unresolved and are looked up later
            self._unreadable(error)
            looked_up = {}
        found = {**self._described, **looked_up}
        active: dict[int, ActiveContract] = {}
        self._unresolved = set()
        self._parked = {
            k: v for k, v in self._parked.items() if latest.get(k) and latest[k].changed_ts == v[0]
        }
        for change in wanted:
            conid = change.contract.conid
            contract = found.get(conid, change.contract) if conid in missing else change.contract
            if conid in missing and conid not in found:
                self._unresolved.add(conid)
                self._describe(change)
                continue
            active[conid] = ActiveContract(contract, change.strategy_id, change.priority)
            if conid in missing:
                self.actor_ref.tell(_CompleteRow(conid))
        waiting = self._unresolved - self._parked.keys()
        self._retry_at = self.now() + (DESCRIBE_RETRY_S if waiting else RESOLVE_RETRY_S)
        self._publish(active)

    def _describe(self, change: StrategyChange) -> None:
        """Ask the gateway to describe an active conid the lake does not know (unless it is parked)."""
        conid = change.contract.conid
        if conid in self._parked:
            return
        asked = tell_by_name(self.ctx, CONNECTION, DescribeContract(conid, self.actor_ref))
        how = "asking the gateway to describe it" if asked else "the gateway will describe it once connected"
        self._report(f"conid {conid} (strategy {change.strategy_id!r}) has no contract fields: {how}")

    def _complete_row(self, conid: int) -> None:
        """Append the full contract fields of an activation made by conid alone (once it is resolved)."""
        change = latest_per_conid([*self._logged, *self._own.values()]).get(conid)
        active = self._active.get(conid)
        if change is None or active is None or change.contract.sec_type or not change.active:
            return  # already complete, or no longer active
        completed = StrategyChange(
            active.contract, change.strategy_id, change.priority, True, utc_now(), CHANGED_BY
        )
        if isinstance(self._write(completed), ChangeRefused):
            logger.info("registry: the row of conid {} is completed later (the lake writer is away)", conid)

    def _on_described(self, answer: ContractDescribed) -> None:
        """Complete the registry row of a described conid, or park a conid the gateway does not know."""
        change = latest_per_conid([*self._logged, *self._own.values()]).get(answer.conid)
        if change is None or not change.active or answer.conid in self._active:
            return
        if answer.contract is not None:
            self._described[answer.conid] = answer.contract
            self._apply()
        elif answer.code:
            reason = f"the gateway does not know it ({answer.code}: {answer.error})"
            self._parked[answer.conid] = (
                change.changed_ts,
                ParkedContract(answer.conid, change.strategy_id, reason),
            )
            logger.warning(
                "registry: conid {} (strategy {!r}) parked: {}; fix or deactivate it (run.py activate or "
                "deactivate)",
                answer.conid,
                change.strategy_id,
                reason,
            )

    def _publish(self, active: dict[int, ActiveContract]) -> None:
        previous, self._active = self._active, active
        if not self._announced:
            return
        for conid, contract in active.items():
            if previous.get(conid) != contract:
                logger.info(
                    "registry: {} active for {}", contract.contract.symbol or conid, contract.strategy_id
                )
                tell_by_name(self.ctx, STREAMS, ContractActivated(contract))
        for conid in previous.keys() - active.keys():
            logger.info("registry: conid {} no longer active", conid)
            tell_by_name(self.ctx, STREAMS, ContractDeactivated(conid))
            tell_by_name(self.ctx, QUEUE, ContractDeactivated(conid))

    def _send_all(self) -> None:
        tell_by_name(self.ctx, STREAMS, ActiveContracts(tuple(self._active.values())))

    def _report(self, text: str) -> None:
        """Log `text` once per incarnation (a bad row or unknown conid is not re-reported every second)."""
        if text not in self._reported:
            self._reported.add(text)
            logger.warning("registry: {}", text)
