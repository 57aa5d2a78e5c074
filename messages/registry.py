"""Messages of the RegistryActor (besides `SendActiveContracts` from `messages.routing`).

The embedding facade and tests ask `Activate` / `Deactivate` (with a timeout) and get `ChangeAccepted` or
`ChangeRefused`; anyone may ask `IsActive` (a bool) or `GetActiveContracts` (an `ActiveContracts`).
"""

import msgspec

from possync.messages.domain import Contract
from possync.messages.routing import DEFAULT_PRIORITY


class Activate(msgspec.Struct, frozen=True):
    """Make `conid` active for `strategy_id`; without `contract` its fields come from the lake's positions."""

    conid: int
    strategy_id: str
    priority: int = DEFAULT_PRIORITY
    contract: Contract | None = None


class Deactivate(msgspec.Struct, frozen=True):
    """Make `conid` inactive (its line is released; it is polled again if it is a position)."""

    conid: int


class ChangeAccepted(msgspec.Struct, frozen=True):
    """The change is in the lake writer's journal and applied: the streaming side has been told."""


class ChangeRefused(msgspec.Struct, frozen=True):
    """The change was not made; `reason` says why and what to do."""

    reason: str


class IsActive(msgspec.Struct, frozen=True):
    """Ask: is `conid` active? Answered with a bool."""

    conid: int


class GetActiveContracts(msgspec.Struct, frozen=True):
    """Ask for the full active set, answered with `messages.routing.ActiveContracts`."""


class RefreshRegistry(msgspec.Struct, frozen=True):
    """Timer → registry: look for changes another process appended to `active_strategies`."""
