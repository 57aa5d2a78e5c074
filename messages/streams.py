"""Messages of the StreamActors and their StreamSupervisor (tree name `STREAMS`).

The StreamSupervisor also accepts `ContractActivated`, `ContractDeactivated` and `ActiveContracts` from
`messages.routing`; each StreamActor also accepts the slot and connection messages addressed to it.
"""

from collections.abc import Callable, Sequence
from enum import StrEnum

import msgspec

from possync.messages.domain import DataType, Observation
from possync.messages.slots import SlotLease


class StreamState(StrEnum):
    """Where one active contract's stream stands."""

    REQUESTED = "requested"  # asked the allocator for a line
    STREAMING = "streaming"  # holds a line and is subscribed
    QUEUED = "queued"  # no line (none free, demoted, or refused with 101): in the queue, waiting for one
    PARKED = "parked"  # the gateway refused its market data (200, 321: for good; else asked again later)
    WAITING = "waiting"  # a competing live session (10197) holds the data: no line, asks again with backoff
    MARKET_CLOSED = "market_closed"  # holds its line; outside its trading hours silence is expected


class CheckSilence(msgspec.Struct, frozen=True):
    """Timer → stream: resubscribe if no tick came for `streams.silent_after_s` while the feeds are fine."""


class RetryLine(msgspec.Struct, frozen=True):
    """Timer → stream: a refusal's wait is over (10197 backoff, `streams.refused_retry_s`): ask for a line."""


class WriteObservations(msgspec.Struct, frozen=True):
    """Timer → stream supervisor: hand every stream's observations since the last write to the lake writer."""


class Updates(msgspec.Struct, frozen=True):
    """Connection → update dispatcher (`UPDATES`): the observations the feeds made, for the handlers."""

    rows: tuple[Observation, ...]


Deliver = Callable[[Sequence[Observation]], bool]
"""What a producer of streamed observations calls first (`StreamHandlers.deliver`: the inline handlers);
True: tell them to the update dispatcher in `Updates` too."""


def deliver_all(observations: Sequence[Observation]) -> bool:
    """The `Deliver` of a tree without inline handlers: every observation goes to the dispatcher."""
    return True


class GetStreamStatus(msgspec.Struct, frozen=True):
    """Ask a stream for its `StreamStatus` (always with a timeout)."""


class StreamStatus(msgspec.Struct, frozen=True):
    """One stream: its contract, state, line, whether silence is expected, and its counters."""

    conid: int
    priority: int
    state: StreamState
    lease: SlotLease | None
    suspect: bool
    ticks: int
    resubscriptions: int
    market_price: float | None
    last_tick_age_s: float | None = None
    """Seconds since this incarnation's last tick; None before the first."""
    symbol: str = ""
    strategy_id: str = ""
    reason: str = ""
    """Why it is queued or parked ("" while it holds a line)."""
    data_type: DataType | None = None
    """What kind of data the line's last tick was (live, frozen, delayed, delayed_frozen); None before one."""
    refusal_code: int | None = None
    """The gateway's code of the last refusal of this contract's market data, until a line ticks again."""
    refusal: str = ""
    """That refusal's text."""


class GetActiveStreams(msgspec.Struct, frozen=True):
    """Ask the StreamSupervisor which contracts it runs a stream for (an `ActiveStreams`)."""


class ActiveStreams(msgspec.Struct, frozen=True):
    """The stream names by conid, as the StreamSupervisor runs them now."""

    names: dict[int, str]
