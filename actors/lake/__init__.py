"""The lake: its writer (journal, backlog, committer and Delta sink are its private parts), its tables,
and the one read path (`query`, `LatestPositions`)."""

from possync.actors.lake._lease import LeaseState, lease_state
from possync.actors.lake._location import LakeLocation, location_of
from possync.actors.lake._maintain import MaintenanceOutcome, maintain_lake
from possync.actors.lake._positions import LatestPositions, PositionKey, latest_contracts
from possync.actors.lake._query import query, read_all
from possync.actors.lake._tables import (
    ACTIVE_STRATEGIES,
    POSITION_QUEUE,
    POSITION_UPDATES,
    TABLES,
    LakeRowError,
    LakeTable,
)
from possync.actors.lake._writer import LakeWriterActor

__all__ = [
    "ACTIVE_STRATEGIES",
    "POSITION_QUEUE",
    "POSITION_UPDATES",
    "TABLES",
    "LakeLocation",
    "LakeRowError",
    "LakeTable",
    "LakeWriterActor",
    "LatestPositions",
    "LeaseState",
    "MaintenanceOutcome",
    "PositionKey",
    "latest_contracts",
    "lease_state",
    "location_of",
    "maintain_lake",
    "query",
    "read_all",
]
