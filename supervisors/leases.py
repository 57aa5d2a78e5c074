"""Resource leases bound to one incarnation of an actor.

An actor that takes a resource (a market-data slot, a subscription) registers it with
`ctx.leases.acquire(resource_id, release)`. The release callback runs exactly once: when the actor
releases the lease itself, or when the incarnation ends, whatever the exit path (crash in on_start,
crash in a handler, normal stop), or when its supervisor abandons it while it is stuck. In that last
case the callback runs in the supervisor's thread ("compensation"): it should only tell the resource's
owner, e.g. tell the slot allocator to free the slot or the connection to cancel the subscription.
"""

import threading
from collections.abc import Callable, Hashable

from loguru import logger

from possync.supervisors.errors import LeaseSetClosed


class Lease:
    """One resource held by an incarnation; `release()` runs its release callback exactly once."""

    __slots__ = ("_lock", "_owner", "_release", "_released", "resource_id")

    def __init__(self, resource_id: Hashable, release: Callable[[], None], owner: "LeaseSet") -> None:
        self.resource_id = resource_id
        self._release = release
        self._owner = owner
        self._lock = threading.Lock()
        self._released = False

    @property
    def released(self) -> bool:
        """True once the release callback has been run (or is running)."""
        return self._released

    def release(self) -> bool:
        """Run the release callback if nobody has yet; True if this call did. Safe from any thread."""
        with self._lock:
            if self._released:
                return False
            self._released = True
        self._owner._forget(self)
        self._release()
        return True

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        return f"<Lease {self.resource_id!r} of {self._owner.holder} ({state})>"


class LeaseSet:
    """The leases of one incarnation: all released exactly once when it ends, newest first."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self._lock = threading.Lock()
        self._leases: dict[Lease, None] = {}
        self._closed = False

    def acquire(self, resource_id: Hashable, release: Callable[[], None]) -> Lease:
        """Tie a resource to this incarnation; `release` frees it (it must not block: tell, don't ask).

        Raises LeaseSetClosed (after releasing the resource at once) if the incarnation has already ended.
        """
        lease = Lease(resource_id, release, self)
        with self._lock:
            if not self._closed:
                self._leases[lease] = None
                return lease
        lease.release()
        raise LeaseSetClosed(
            f"{self.holder} acquired {resource_id!r} after its incarnation ended; it was released at once"
        )

    def held(self) -> list[Lease]:
        """The leases not released yet, oldest first."""
        with self._lock:
            return list(self._leases)

    @property
    def closed(self) -> bool:
        """True once the incarnation has ended: no lease can be acquired any more."""
        return self._closed

    def release_all(self) -> None:
        """Close the set and release every lease still held, newest first; a failing callback is logged."""
        with self._lock:
            self._closed = True
            leases = list(self._leases)
        for lease in reversed(leases):
            try:
                lease.release()
            except BaseException:  # one bad callback must not leak the other leases
                logger.exception("releasing {} failed", lease)

    def _forget(self, lease: Lease) -> None:
        with self._lock:
            self._leases.pop(lease, None)
