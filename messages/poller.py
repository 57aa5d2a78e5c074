"""Messages of the PollerActor and the ReconcilerActor, and what they ask the ConnectionActor.

The connection answers `PositionsRequest` (ask, with a timeout) with `PositionsReply`, read from what
ib_insync already holds: the positions subscription (reqPositions, kept current after positionEnd) and
the portfolio updates (reqAccountUpdates) for prices. It uses no market-data line.
"""

from datetime import datetime

import msgspec

from possync.messages.domain import Contract, Value


class PositionsRequest(msgspec.Struct, frozen=True):
    """Poller / reconciler / queue → connection (ask): the held positions of `conids`, or all when None."""

    conids: tuple[int, ...] | None = None


class HeldPosition(msgspec.Struct, frozen=True):
    """One (account, contract) with a non-zero position; `market_price` from portfolio updates, if any
    (else implied by the P&L channel's value); `value` what portfolio updates (or else P&L) say it is worth;
    `pnl` True while the P&L channel subscribes it (it brings a value: no snapshot needed)."""

    account: str
    contract: Contract
    position: float
    avg_cost: float
    market_price: float | None
    value: Value | None = None
    pnl: bool = False


class PositionsReply(msgspec.Struct, frozen=True):
    """Connection → asker: the positions held now.

    `complete` is True once positionEnd has arrived in the current session: only then does an (account,
    conid) missing from `positions` mean flat. `accounts` are the accounts covered (a missing position
    of any other account means nothing). `as_of` is when the connection built the reply (UTC).
    """

    complete: bool
    accounts: tuple[str, ...]
    positions: tuple[HeldPosition, ...]
    as_of: datetime


class PollTick(msgspec.Struct, frozen=True):
    """Timer → poller: run one cycle (take a batch, refresh it, record outcomes)."""


class GetPollerStats(msgspec.Struct, frozen=True):
    """Ask the poller for its `PollerStats`."""


class PollerStats(msgspec.Struct, frozen=True):
    """The poller's counters since it started; `oldest_observation_age_s` comes from the queue."""

    cycles: int
    processed: int
    succeeded: int
    closed: int
    failed: int
    deferred: int
    last_cycle_s: float
    oldest_observation_age_s: float
    snapshots: int = 0
    """Snapshots taken on lines the allocator lent (each a contract without a price)."""
    batch_limit: int = 0
    """Items the last cycle could take (derived from the queue's size; `poller.batch_size` at least)."""


class ReconcileTick(msgspec.Struct, frozen=True):
    """Timer → reconciler: compare the gateway's positions with the lake now."""


class ReconcileNow(msgspec.Struct, frozen=True):
    """Ask the reconciler to compare at once; answered with the `ReconcileReport` of that run."""


class ReconcileReport(msgspec.Struct, frozen=True):
    """One comparison: how many positions were checked and how many drift rows were written.

    `skipped` says why nothing was compared ("" when it ran).
    """

    checked: int
    drift: int
    skipped: str = ""
