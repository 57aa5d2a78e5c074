"""RegistryActor: the active contracts, in memory and in `active_strategies` (shared with the CLI).

Receives: Activate, Deactivate (ask: facade); GetActiveContracts (ask: queue), IsActive (ask);
          SendActiveContracts (STREAMS); RefreshRegistry (its timer).
Sends:    WriteRows (ask) → LAKE_WRITER; ContractActivated, ContractDeactivated, ActiveContracts → STREAMS;
          ContractDeactivated → QUEUE.
Owns:     the active set (in memory), a reader of `active_strategies` (`StrategyLog`), its own changes
          until the table shows them, its refresh timer.

On start it restores the active set from the table and tells the streaming side the full set. Every
`registry.refresh_interval_s` it checks the table version (one small log read) and, when another
process (the CLI) appended changes, applies them and tells STREAMS the activations and deactivations
(and the QUEUE the deactivations, so those positions are polled again). Its own changes go through the
lake writer and apply at once; until the writer has committed them they are laid over what the table
says, so nothing flips back meanwhile. It never writes the table itself: the CLI appends its changes
directly (`_store.append_change`).

Rows lacking contract fields get them from the lake's latest positions; a conid the lake has never
seen is reported once and stays inactive (retried every `RESOLVE_RETRY_S`). A garbage row is reported
once and skipped. In a fleet, only the rows addressed to this service's account (or to every service) apply.
"""

from datetime import datetime
from pathlib import Path

from loguru import logger

from possync.actors import TreeActor, Unavailable, ask_by_name, tell_by_name
from possync.actors.lake import LakeLocation, latest_contracts
from possync.actors.names import LAKE_WRITER, QUEUE, STREAMS
from possync.actors.registry._store import (
    StrategyLog,
    UnknownContract,
    activation,
    addressed_to,
    latest_per_conid,
)
from possync.config.settings import RegistrySettings
from possync.messages.domain import utc_now
from possync.messages.lake import RowsAccepted, StrategyChange, WriteRows
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
            case _:
                logger.warning("registry: ignored unexpected message {!r}", message)
        return None

    def _activate(self, request: Activate) -> ChangeAccepted | ChangeRefused:
        known = next(
            (c for c in self._logged if c.contract.conid == request.conid and c.contract.symbol), None
        )
        contract = request.contract or (known.contract if known else None)
        try:
            change = activation(
                self._root,
                request.conid,
                request.strategy_id,
                request.priority,
                CHANGED_BY,
                contract,
                self._account,
            )
        except UnknownContract as error:
            return ChangeRefused(str(error))
        return self._write(change)

    def _deactivate(self, conid: int) -> ChangeAccepted | ChangeRefused:
        current = self._active.get(conid)
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
            found = latest_contracts(self._root, missing) if missing else {}
        except Exception as error:  # the lake unreachable: they stay unresolved and are looked up later
            self._unreadable(error)
            found = {}
        active: dict[int, ActiveContract] = {}
        self._unresolved = set()
        for change in wanted:
            conid = change.contract.conid
            contract = found.get(conid, change.contract) if conid in missing else change.contract
            if conid in missing and conid not in found:
                self._unresolved.add(conid)
                self._report(
                    f"conid {conid} (strategy {change.strategy_id!r}, by {change.changed_by!r}) is unknown: "
                    "not among the positions in the lake; it stays inactive until the account holds it"
                )
                continue
            active[conid] = ActiveContract(contract, change.strategy_id, change.priority)
        self._retry_at = self.now() + RESOLVE_RETRY_S
        self._publish(active)

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
