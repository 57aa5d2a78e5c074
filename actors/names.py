"""Every actor name of the application tree, in one place (`tree.whereis(name)`, fault injection, logs).

Names are stable across restarts: actors address each other by name, never by a reference they kept.
"""

APP = "possync"
"""The root supervisor."""
LAKE_WRITER = "lake_writer"
REGISTRY = "registry"
QUEUE = "queue"
SESSION = "session"
"""The supervisor of everything that lives and dies with one gateway connection."""
CONNECTION = "connection"
SLOT_ALLOCATOR = "slot_allocator"
POLLER = "poller"
RECONCILER = "reconciler"
PNL = "pnl"
"""The PnlActor: writes the P&L channel's values (the subscriptions are the connection's)."""
STREAMS = "streams"
"""The StreamSupervisor: one `stream_name(conid)` child per active contract."""
UPDATES = "updates"


def stream_name(conid: int) -> str:
    """The tree name of the stream of `conid`."""
    return f"stream-{conid}"
