"""The active contracts: the registry actor and `active_strategies`, the event log it shares with the CLI."""

from possync.actors.registry._actor import RegistryActor
from possync.actors.registry._store import (
    StrategyLog,
    activation,
    addressed_to,
    append_change,
    current_change,
    deactivation,
    latest_per_conid,
)

__all__ = [
    "RegistryActor",
    "StrategyLog",
    "activation",
    "addressed_to",
    "append_change",
    "current_change",
    "deactivation",
    "latest_per_conid",
]
