"""The positions that do not stream: the refresh queue, the poller and the reconciler (no line used)."""

from possync.actors.polling._identity import StateIdentity, identity_of
from possync.actors.polling._pnl import PnlActor
from possync.actors.polling._poller import PollerActor
from possync.actors.polling._queue import QueueActor
from possync.actors.polling._reconciler import ReconcilerActor
from possync.actors.polling._sizing import shortfall

__all__ = [
    "PnlActor",
    "PollerActor",
    "QueueActor",
    "ReconcilerActor",
    "StateIdentity",
    "identity_of",
    "shortfall",
]
