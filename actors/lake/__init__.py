"""The lake: its writer (journal, backlog, committer and Delta sink are its private parts), its tables,
and the one read path (`query`, `LatestPositions`)."""

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
    "LakeRowError",
    "LakeTable",
    "LakeWriterActor",
    "LatestPositions",
    "PositionKey",
    "latest_contracts",
    "query",
    "read_all",
]
