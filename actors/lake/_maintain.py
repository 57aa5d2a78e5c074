"""One-shot maintenance of a whole lake (`run.py maintain`, for cron or a cluster job): compaction,
checkpoint, log cleanup and vacuum of every table, under the lake's maintenance lease.

With `lake.maintenance = "off"` the services never maintain and this job is the only one that does; with
`"auto"` it competes for the same lease, so it never runs at the same time as a service's maintenance.
"""

import os
import socket
from dataclasses import dataclass

from possync.actors.lake._lease import MaintenanceLease, lease_state
from possync.actors.lake._location import LakeLocation
from possync.actors.lake._sink import DeltaSink
from possync.actors.lake._tables import TABLES


@dataclass(frozen=True)
class MaintenanceOutcome:
    """What `maintain_lake` did: the tables maintained, the problems by table, or who held the lease."""

    maintained: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    held_by: str = ""


def maintain_lake(location: LakeLocation, lease_s: float, max_commit_retries: int = 30) -> MaintenanceOutcome:
    """Maintain every existing table of the lake once, holding the maintenance lease meanwhile.

    Returns without doing anything (`held_by` set) when another writer holds the lease.
    """
    holder = f"possync-maintain-{socket.gethostname()}-{os.getpid()}"
    lease = MaintenanceLease(location, holder, lease_s)
    if not lease.claim():
        state = lease_state(location)
        return MaintenanceOutcome(
            held_by=f"{state.holder} until {state.expires_ts:%H:%M:%S} UTC" if state else "?"
        )
    maintained, problems = [], []
    try:
        for table in TABLES:
            if not location.is_table(table.name):
                continue
            problem = DeltaSink(location, table, holder, max_commit_retries).maintain(vacuum=True)
            (problems.append(f"{table.name}: {problem}") if problem else maintained.append(table.name))
    finally:
        lease.release()
    return MaintenanceOutcome(tuple(maintained), tuple(problems))
