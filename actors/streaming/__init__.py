"""Real-time streams of the active contracts: the line budget, one stream per contract, the update path."""

from possync.actors.streaming._allocator import SlotAllocatorActor
from possync.actors.streaming._dispatcher import UpdateDispatcherActor
from possync.actors.streaming._feed import StreamFeed
from possync.actors.streaming._handlers import Handler, StreamHandlers
from possync.actors.streaming._stream import StreamActor, StreamTemplate
from possync.actors.streaming._supervisor import StreamSupervisor, StreamSupervisorSpec

__all__ = [
    "Handler",
    "SlotAllocatorActor",
    "StreamActor",
    "StreamFeed",
    "StreamHandlers",
    "StreamSupervisor",
    "StreamSupervisorSpec",
    "StreamTemplate",
    "UpdateDispatcherActor",
]
