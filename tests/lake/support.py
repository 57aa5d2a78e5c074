"""Helpers of the lake tests (also used by the SIGKILL child): observations with ids, reading tables, status.

Tables are read through `possync.actors.lake.query` (see there why not `DeltaTable.to_pyarrow_table()`).
"""

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pykka
from deltalake import DeltaTable

from possync.actors.lake import _query as lake_query
from possync.messages.domain import Contract, Observation, Source, utc_now
from possync.messages.lake import GetLakeStatus, LakeStatus
from tests.helpers import wait_until

AAPL = Contract(265598, "AAPL", "STK")


def observation(oid: int, account: str = "DU1") -> Observation:
    """An observation whose `position` is its id (ids are exact in a float64 below 2**53)."""
    return Observation(account, AAPL, float(oid), 1.5, 2.5, Source.STREAM, utc_now())


def observations(first: int, count: int) -> tuple[Observation, ...]:
    """Observations with ids first .. first + count - 1."""
    return tuple(observation(oid) for oid in range(first, first + count))


def query(root: Path | str, table: str, sql: str) -> pa.Table:
    """Run `sql` (the table is called `t`) on `root/table` with plain deltalake."""
    return lake_query.query(DeltaTable(str(Path(root) / table)), sql)


def ids_in_lake(root: Path | str) -> Counter[int]:
    """How often each observation id is in `position_updates`."""
    rows = query(root, "position_updates", "SELECT position FROM t").column("position").to_pylist()
    return Counter(int(p) for p in rows)


def status(ref: pykka.ActorRef[Any]) -> LakeStatus:
    """The writer's status (asked with a timeout)."""
    return ref.ask(GetLakeStatus(), timeout=10)


def wait_committed(ref: pykka.ActorRef[Any], timeout: float = 30.0) -> LakeStatus:
    """Wait until the writer has nothing pending and is healthy; return its status."""
    return wait_until(
        lambda: (s := status(ref)).pending_rows == 0 and s.healthy and s, timeout, message="lake caught up"
    )
