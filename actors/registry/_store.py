"""`active_strategies` as the registry's store: an append-only event log, the latest row per conid wins.

Used by the RegistryActor (which reads it; its own writes go through the lake writer) and by the CLI in
another process (which appends with `append_change`). So the table has two writers, the lake writer and
the CLI: appends do not conflict, and a commit that loses a race is retried (here by `append_rows`, in
the writer by its backoff). A row another tool wrote badly is reported and skipped by `parse_changes`,
never fatal. Every read and write takes the lake's location (URI and storage options), so it works on an
object-store lake as on a local one.

A fleet: a row's `account` addresses it to the service of that account ("" or null: to every service);
a service applies the rows addressed to it (`addressed_to`), the latest per conid winning.
"""

import random
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import msgspec
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from possync.actors.lake import ACTIVE_STRATEGIES, LakeLocation, latest_contracts, read_all
from possync.messages.domain import Contract, utc_now
from possync.messages.lake import StrategyChange
from possync.messages.routing import DEFAULT_PRIORITY


def _problem(row: dict) -> str:
    """What is wrong with a raw `active_strategies` row, or "" if it is usable."""
    if not isinstance(row.get("conid"), int) or row["conid"] <= 0:
        return "conid must be a positive integer"
    if not isinstance(row.get("active"), bool):
        return "active must be true or false"
    if not isinstance(row.get("changed_ts"), datetime):
        return "changed_ts must be a timestamp"
    if row["active"] and not (isinstance(row.get("strategy_id"), str) and row["strategy_id"].strip()):
        return "an activation needs a strategy_id"
    if row["active"] and not (isinstance(row.get("priority"), int) and row["priority"] >= 1):
        return "an activation needs a priority >= 1"
    return ""


def _change(row: dict) -> StrategyChange:
    """A validated row as a StrategyChange (null descriptive fields become the Contract defaults)."""
    contract = Contract(
        conid=row["conid"],
        symbol=row.get("symbol") or "",
        sec_type=row.get("sec_type") or "",
        expiry=row.get("expiry") or "",
        strike=row.get("strike") or 0.0,
        right=row.get("right") or "",
        currency=row.get("currency") or "USD",
        exchange=row.get("exchange") or "SMART",
    )
    return StrategyChange(
        contract=contract,
        strategy_id=row.get("strategy_id") or "",
        priority=row.get("priority") or DEFAULT_PRIORITY,
        active=row["active"],
        changed_ts=row["changed_ts"],
        changed_by=row.get("changed_by") or "",
        account=row.get("account") or "",
    )


def parse_changes(rows: Iterable[dict]) -> tuple[list[StrategyChange], list[str]]:
    """The usable rows as StrategyChanges, and one description per unusable row (what is wrong with it)."""
    changes: list[StrategyChange] = []
    garbage: list[str] = []
    for row in rows:
        problem = _problem(row)
        if problem:
            garbage.append(f"{problem}: {row}")
        else:
            changes.append(_change(row))
    return changes, garbage


def addressed_to(change: StrategyChange, account: str) -> bool:
    """Whether `change` applies to the service of `account` ("" : a service of every account it manages)."""
    return not account or change.account in ("", account)


def latest_per_conid(changes: Iterable[StrategyChange]) -> dict[int, StrategyChange]:
    """The newest change of each conid (by changed_ts; on a tie the later one in the log)."""
    latest: dict[int, StrategyChange] = {}
    for change in changes:
        known = latest.get(change.contract.conid)
        if known is None or change.changed_ts >= known.changed_ts:
            latest[change.contract.conid] = change
    return latest


class StrategyLog:
    """A reader of `active_strategies` under a lake root that notices new commits cheaply."""

    def __init__(self, root: "str | Path | LakeLocation") -> None:
        self._location = LakeLocation.of(root)
        self._table: DeltaTable | None = None

    def version(self) -> int | None:
        """The table's latest version (one small log read), or None while the table does not exist."""
        if self._table is None:
            self._table = self._location.open(ACTIVE_STRATEGIES.name)
            if self._table is None:
                return None
        else:
            self._table.update_incremental()
        return self._table.version()

    def read(self) -> tuple[list[StrategyChange], list[str]]:
        """Every usable change at the version last seen by `version()`, and the unusable rows described."""
        if self._table is None:
            return [], []
        return parse_changes(read_all(self._table).to_pylist())


def append_change(root: "str | Path | LakeLocation", change: StrategyChange, attempts: int = 8) -> None:
    """Append one change to `active_strategies` (creating it), retrying a commit that lost a race.

    Raises CommitFailedError when `attempts` commits in a row lost; raises `LakeRowError` for a bad change.
    """
    append_rows(root, ACTIVE_STRATEGIES.unpack(ACTIVE_STRATEGIES.pack([change])), attempts)


def append_rows(root: "str | Path | LakeLocation", data: pa.Table, attempts: int = 8) -> None:
    """Append `data` to `active_strategies` as is, retrying a commit that lost a race with another writer."""
    location = LakeLocation.of(root)
    for attempt in range(1, attempts + 1):
        try:
            write_deltalake(
                location.table_uri(ACTIVE_STRATEGIES.name),
                data,
                mode="append",
                schema_mode="merge",
                storage_options=location.options,
                commit_properties=CommitProperties(max_commit_retries=30),
            )
            return
        except CommitFailedError:
            if attempt == attempts:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)  # another writer won: back off, retry


def activation(
    root: "str | Path | LakeLocation",
    conid: int,
    strategy_id: str,
    priority: int,
    changed_by: str,
    contract: Contract | None = None,
    account: str = "",
) -> StrategyChange:
    """An activation of `conid` (for the service of `account`; "": every service), with its contract fields
    from `contract` or else from the lake's positions; a conid the lake has never seen is activated by its
    conid alone (the service asks the gateway to describe it and completes the row)."""
    if contract is None:
        contract = latest_contracts(root, [conid]).get(conid) or Contract(conid, "", "")
    return StrategyChange(contract, strategy_id, priority, True, utc_now(), changed_by, account)


def current_change(root: "str | Path | LakeLocation", conid: int, account: str = "") -> StrategyChange | None:
    """The latest change of `conid` addressed to the service of `account` ("": any), or None."""
    log = StrategyLog(root)
    log.version()
    return latest_per_conid(c for c in log.read()[0] if addressed_to(c, account)).get(conid)


def deactivation(
    root: "str | Path | LakeLocation", conid: int, changed_by: str, account: str = ""
) -> StrategyChange:
    """A deactivation of `conid` for `account` ("": every service), carrying the fields of its current
    registry entry when there is one."""
    current = current_change(root, conid, account)
    if current is None:
        current = StrategyChange(Contract(conid, "", ""), "", DEFAULT_PRIORITY, False, utc_now(), changed_by)
    return msgspec.structs.replace(
        current, active=False, changed_ts=utc_now(), changed_by=changed_by, account=account
    )
