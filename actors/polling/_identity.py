"""Whose state the queue's state file is: the lake and the gateway it belongs to.

The file records the lake (its path, absolute, or its URI; and the Delta table id of `position_updates`,
which changes when the table is created anew) and the gateway (host:port, the configured `ib.account`, and
the accounts the gateway reported). A file written for another lake or gateway is not this queue's state:
`mismatch` says why, and the queue sets it aside and rebuilds from the gateway's positions.
"""

from pathlib import Path

import msgspec
from deltalake import DeltaTable

from possync.actors.lake import POSITION_UPDATES


class StateIdentity(msgspec.Struct, frozen=True):
    """The lake and gateway a state file belongs to ("" where unknown)."""

    lake: str
    table_id: str
    gateway: str
    account: str
    accounts: tuple[str, ...] = ()


def lake_location(root: str) -> str:
    """The lake's root as a stable name: a URI as it is, a local path made absolute."""
    return root if "://" in root else str(Path(root).resolve())


def table_id(root: str) -> str:
    """The Delta table id of the lake's `position_updates` ("" while it does not exist or cannot be read)."""
    try:
        return DeltaTable(f"{root.rstrip('/')}/{POSITION_UPDATES.name}").metadata().id
    except Exception:
        return ""


def identity_of(lake_root: str, host: str, port: int, account: str) -> StateIdentity:
    """The identity of the state of a service on `lake_root` and the gateway at `host:port`."""
    return StateIdentity(lake_location(lake_root), table_id(lake_root), f"{host}:{port}", account)


def mismatch(saved: StateIdentity | None, current: StateIdentity) -> str:
    """Why a file saved as `saved` is not the state of `current` ("" when it is; a file without an identity,
    from an older version, is adopted)."""
    if saved is None:
        return ""
    if saved.lake != current.lake:
        return f"it belongs to the lake {saved.lake}, not {current.lake}"
    if saved.table_id and current.table_id and saved.table_id != current.table_id:
        return f"the lake's position_updates table is new (id {saved.table_id} → {current.table_id})"
    if saved.gateway != current.gateway or saved.account != current.account:
        return (
            f"it belongs to the gateway {saved.gateway} account {saved.account or 'all'}, not "
            f"{current.gateway} account {current.account or 'all'}"
        )
    return ""


def accounts_mismatch(saved: StateIdentity, reported: tuple[str, ...]) -> str:
    """Why the accounts the gateway reports now show the file is another login's ("" when they overlap)."""
    if saved.accounts and reported and not set(saved.accounts) & set(reported):
        return f"it holds the accounts {', '.join(saved.accounts)}; the gateway reports {', '.join(reported)}"
    return ""
