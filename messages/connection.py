"""Messages of the ConnectionActor: subscriptions from streams, and what the gateway says, as messages.

Only the ConnectionActor touches ib_insync. A stream holding a line tells it `Subscribe` (ticks then go
to the line's `StreamFeed`), and `Unsubscribe` when it gives the line back (also
the compensation when a stream's lease is released from outside). Gateway notices reach every stream
as `FeedSuspect` (a data farm or the gateway's own connectivity is down: expect silence) and
`VerifyStream` (connectivity came back with data maintained: check you still get ticks).
"""

from typing import Any

import msgspec
import pykka
from possync.messages.domain import Contract
from possync.messages.slots import SlotLease


class Subscribe(msgspec.Struct, frozen=True):
    """Stream → connection: stream `contract` on this line; its ticks and positions go to `feed`
    (an `actors.stream_feed.StreamFeed`), which tells `reply_to` (that stream incarnation)."""

    lease: SlotLease
    contract: Contract
    reply_to: pykka.ActorRef[Any]
    feed: Any


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
