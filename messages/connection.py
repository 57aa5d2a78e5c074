"""Messages of the ConnectionActor: subscriptions from streams, and what the gateway says, as messages.

Only the gateway package touches the IB client. A stream holding a line tells it `Subscribe` (ticks then
go straight to the line's `TickSink`, in the gateway's network thread), and `Unsubscribe` when it gives
the line back (also the compensation when a stream's lease is released from outside). Gateway notices
reach every stream as `FeedSuspect` (a data farm or the gateway's own connectivity is down: expect
silence) and `VerifyStream` (connectivity came back with data maintained: check you still get ticks).
"""

from typing import Any, Protocol

import msgspec
import pykka

from possync.messages.domain import Contract, Observation, Tick
from possync.messages.routing import PositionChanged
from possync.messages.slots import SlotLease


class TickSink(Protocol):
    """Where the gateway hands one line's ticks and its contract's position changes (the stream's feed).

    Called in the gateway's threads (ticks in its network loop): each call must be quick, and returns the
    observations it made, which the gateway hands to the update dispatcher in one message per read.
    """

    def set_positions(self, positions: tuple[PositionChanged, ...]) -> None:
        """The positions held in the contract before the first tick."""

    def position_changed(self, position: PositionChanged) -> tuple[Observation, ...]:
        """A position of the contract changed; its observations, if a price is known."""
        return ()

    def on_tick(self, tick: Tick) -> tuple[Observation, ...]:
        """What a read from the gateway left on the line; the observations it makes."""
        return ()


class Subscribe(msgspec.Struct, frozen=True):
    """Stream → connection: stream `contract` on this line; its ticks and positions go to `feed`;
    refusals and notices about the line go to `reply_to` (that stream incarnation)."""

    lease: SlotLease
    contract: Contract
    reply_to: pykka.ActorRef[Any]
    feed: TickSink


class Unsubscribe(msgspec.Struct, frozen=True):
    """Stream (or its lease's release) → connection: cancel the subscription on this line."""

    lease: SlotLease


class Resubscribe(msgspec.Struct, frozen=True):
    """Stream → connection: this line went silent: cancel and request it again."""

    lease: SlotLease


class SubscriptionFailed(msgspec.Struct, frozen=True):
    """Connection → stream: the gateway refused or ended this line's subscription with error `code`.

    101 (no line free) also reaches the allocator, as `SlotRefused`.
    """

    lease: SlotLease
    code: int
    message: str


class FeedSuspect(msgspec.Struct, frozen=True):
    """Connection → streams: while `suspect`, silence is expected (`reason` says why); False: all clear."""

    suspect: bool
    reason: str


class VerifyStream(msgspec.Struct, frozen=True):
    """Connection → streams: connectivity came back (1102): resubscribe if no tick arrives soon."""


class GetConnectionStatus(msgspec.Struct, frozen=True):
    """Ask the connection for a `ConnectionStatus` (always with a timeout)."""


class ConnectionStatus(msgspec.Struct, frozen=True):
    """What the connection knows, as /status and /metrics show it.

    `requests_sent` counts the paced requests (subscribe/cancel/snapshot) sent, `requests_pending` those
    queued; `pacing_delays` those that had to wait for the token bucket; `suspect` lists why streams may
    be silent now (empty when healthy); `snapshots` are in progress (each may hold a line).
    """

    host: str
    port: int
    client_id: int
    accounts: tuple[str, ...]
    subscriptions: int
    requests_sent: int
    requests_pending: int
    pacing_delays: int
    suspect: tuple[str, ...]
    snapshots: int = 0
    refusals: dict[int, int] = {}
    """Market-data requests (lines and snapshots) the gateway refused in this session, by error code."""
    pnl_subscriptions: int = 0
    """reqPnLSingle subscriptions held (the P&L channel; no line)."""


class GatewayNotice(msgspec.Struct, frozen=True):
    """Session → connection: a notice that belongs to no subscription (connectivity, data farms, ...)."""

    code: int
    message: str


class GatewaySilence(msgspec.Struct, frozen=True):
    """Session → connection: nothing at all came from the gateway for `seconds` (`silent`), or data flows
    again (not `silent`). A silent gateway is not a silent stream: no stream should resubscribe into it."""

    silent: bool
    seconds: float = 0.0


class GatewayDisconnected(msgspec.Struct, frozen=True):
    """Session → connection: the socket to the gateway closed."""

    reason: str


class GatewayHung(msgspec.Struct, frozen=True):
    """Timer → connection: the gateway has answered nothing for `ib.hung_reconnect_s`, if still silent."""


class LostGraceExpired(msgspec.Struct, frozen=True):
    """Timer → connection: the gateway lost IB (1100) `lost_grace_s` ago; `token` names that outage."""

    token: int
