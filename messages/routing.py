"""The contracts between the two halves of the tree: who tells what to whom, by stable tree name.

Hybrid routing: the ConnectionActor hands every position change of a contract that holds a line to that
line's feed (its `TickSink`, `actors/streaming/_feed.py`), by a call in the connection's own thread, not
a message to the StreamActor; a position without a stream (not active, or active but without a line) is
told to the queue as `PositionChanged`. The registry tells the streaming side which contracts are active
(and the queue which are not any more); the streaming side tells the queue which active contracts it
cannot stream (no lease, refused with 101, demoted) and which it streams again.
"""

from datetime import datetime

import msgspec

from possync.messages.domain import Contract

DEFAULT_PRIORITY = 5
"""Priorities: 1 is the most important; larger numbers matter less."""


class PositionChanged(msgspec.Struct, frozen=True):
    """A position as the gateway's positions subscription reports it (initial list and every later change)."""

    account: str
    contract: Contract
    position: float
    avg_cost: float
    event_ts: datetime


class ActiveContract(msgspec.Struct, frozen=True):
    """A contract of an active strategy: it should hold a streaming line."""

    contract: Contract
    strategy_id: str
    priority: int = DEFAULT_PRIORITY


class ContractActivated(msgspec.Struct, frozen=True):
    """Registry → streams: stream this contract if a lease can be had (else it falls back to the queue)."""

    active: ActiveContract


class ContractDeactivated(msgspec.Struct, frozen=True):
    """Registry → streams and queue: stop streaming this contract (its line goes at once); poll it again."""

    conid: int


class ActiveContracts(msgspec.Struct, frozen=True):
    """Registry → streams: the full active set (sent when either side restarts); converge to exactly it."""

    contracts: tuple[ActiveContract, ...]


class Enqueue(msgspec.Struct, frozen=True):
    """Streams → queue: an active contract that is not streaming (no lease, refused, demoted); poll it."""

    contract: Contract
    priority: int
    reason: str


class Dequeue(msgspec.Struct, frozen=True):
    """Streams → queue: this contract streams now; stop polling it (its positions go to the line's feed)."""

    conid: int


class SendActiveContracts(msgspec.Struct, frozen=True):
    """Streams → registry: tell me the full `ActiveContracts` set (after the streaming side restarted)."""
