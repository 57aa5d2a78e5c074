"""The positions that do not stream: the refresh queue, the poller and the reconciler (no line used)."""

from possync.actors.polling._pnl import PnlActor
from possync.actors.polling._poller import PollerActor
from possync.actors.polling._queue import QueueActor
from possync.actors.polling._reconciler import ReconcilerActor

__all__ = ["PnlActor", "PollerActor", "QueueActor", "ReconcilerActor"]
