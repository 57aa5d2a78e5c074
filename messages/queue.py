"""Messages of the QueueActor: batches handed to the poller, outcomes reported back, and its status.

The queue also accepts `PositionChanged`, `Enqueue` and `Dequeue` from `messages.routing`.
"""

from enum import StrEnum

import msgspec

from possync.messages.domain import Contract


class Outcome(StrEnum):
    """The outcome of one processing attempt, as the audit trail (`position_queue.outcome`) records it."""

    SUCCESS = "success"
    FAILED = "failed"
    CLOSED = "closed"
    DEFERRED = "deferred"
    """Not attempted or not completed for a reason outside the item (gateway or lake writer unavailable):
    retried after `queue.backoff_min_s`, never counted towards parking."""
    PARKED = "parked"
    """Set by the queue, never reported: the item failed `max_attempts` times in a row; it waits `park_s`."""


class PollItem(msgspec.Struct, frozen=True):
    """One due contract handed to the poller; `accounts` are those the queue has seen holding it."""

    contract: Contract
    priority: int
    attempt: int
    accounts: tuple[str, ...]


class TakeBatch(msgspec.Struct, frozen=True):
    """Poller → queue (ask): hand me up to `limit` due items, most important first. Answered with `Batch`.
    With `interval_s` (the poller's cycle), the queue takes more, up to `max_limit`, when its size needs it
    to refresh every position within `queue.refresh_s`."""

    limit: int
    interval_s: float = 0.0
    max_limit: int = 0


class Batch(msgspec.Struct, frozen=True):
    """Queue → poller: due items, in priority order; each is out on loan until its outcome is recorded.

    `oldest_age_s`: seconds since the least recently refreshed item was last refreshed (or joined the queue).
    """

    items: tuple[PollItem, ...]
    oldest_age_s: float
    limit: int = 0
    """How many items this cycle could take (the limit the queue derived from its size)."""


class ItemOutcome(msgspec.Struct, frozen=True):
    """How refreshing one item went: `error` says why when it failed; `accounts` are those observed."""

    conid: int
    outcome: Outcome
    error: str = ""
    accounts: tuple[str, ...] = ()


class RecordOutcomes(msgspec.Struct, frozen=True):
    """Poller → queue (tell): the outcomes of one batch; the queue reschedules and audits them in one go."""

    outcomes: tuple[ItemOutcome, ...]


class ParkedItem(msgspec.Struct, frozen=True):
    """An item that failed `max_attempts` times in a row, with the reason of its last failure."""

    conid: int
    symbol: str
    attempts: int
    reason: str


class GetQueueStatus(msgspec.Struct, frozen=True):
    """Ask the queue for its `QueueStatus`."""


class QueueStatus(msgspec.Struct, frozen=True):
    """How many items the queue holds, how many are due or out on loan, and which are parked and why."""

    size: int
    due: int
    on_loan: int
    oldest_age_s: float
    parked: tuple[ParkedItem, ...]


class SaveTick(msgspec.Struct, frozen=True):
    """Timer → queue: save the state file if it changed, and send the buffered audit rows."""


class Resync(msgspec.Struct, frozen=True):
    """Queue → itself: learn the positions its state file missed from the connection's full list."""
