"""Stable, tree-scoped names: name → the current incarnation's ref, unique names, and death watch.

A restart makes a new ActorRef, so peers look actors up by name (`tree.whereis(name)`) instead of
keeping refs. Names are tree-wide (not per supervisor) and not global: two trees never see each other.
A death watch (`tree.watch(watcher_ref, name)`) covers the incarnation running now: the watcher is told
`Terminated(name, incarnation, reason)` once it ends, or at once if it has already ended; to follow
the next incarnation, watch again.
"""

import threading
from typing import Any

import pykka

from possync.supervisors.actor import tell_quietly
from possync.supervisors.errors import NameTaken, NoSuchActor
from possync.supervisors.messages import ExitReason, Terminated


class _Entry:
    """What the registry knows about one name."""

    __slots__ = ("incarnation", "owner", "reason", "ref", "watchers")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.incarnation = 0
        self.ref: pykka.ActorRef[Any] | None = None
        self.reason: ExitReason | None = None
        self.watchers: list[pykka.ActorRef[Any]] = []

    def running(self) -> bool:
        """True while an incarnation is registered and has not ended."""
        return self.ref is not None and self.reason is None


class NameRegistry:
    """The names of one tree (see the module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._issued: dict[str, int] = {}

    def claim(self, name: str, owner: str) -> None:
        """Reserve `name` for a child of supervisor `owner` (again is fine); NameTaken if another owns it."""
        with self._lock:
            entry = self._entries.setdefault(name, _Entry(owner))
            if entry.owner != owner:
                raise NameTaken(
                    f"child name {name!r} is already used under supervisor {entry.owner!r} in this tree; "
                    "names are tree-wide: choose another name"
                )

    def unclaim(self, name: str, owner: str) -> None:
        """Free `name` if `owner` holds it (its child is gone for good)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.owner == owner:
                del self._entries[name]

    def next_incarnation(self, name: str) -> int:
        """A new incarnation number for `name`: they only grow, across supervisor restarts too."""
        with self._lock:
            self._issued[name] = self._issued.get(name, 0) + 1
            return self._issued[name]

    def register(self, name: str, incarnation: int, ref: pykka.ActorRef[Any]) -> None:
        """Point `name` at a newly started incarnation (ignored if a newer one is known)."""
        with self._lock:
            entry = self._entries[name]
            if incarnation > entry.incarnation:
                entry.incarnation, entry.ref, entry.reason, entry.watchers = incarnation, ref, None, []

    def exited(self, name: str, incarnation: int, reason: ExitReason) -> None:
        """Record the end of an incarnation and tell its watchers, once (stale or repeated: no-op)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or incarnation < entry.incarnation:
                return
            if incarnation == entry.incarnation and entry.reason is not None:
                return
            entry.incarnation, entry.reason = incarnation, reason
            watchers, entry.watchers = entry.watchers, []
        for watcher in watchers:
            tell_quietly(watcher, Terminated(name, incarnation, reason))

    def whereis(self, name: str) -> pykka.ActorRef[Any] | None:
        """The ref of the incarnation of `name` running now, or None."""
        with self._lock:
            entry = self._entries.get(name)
            ref = entry.ref if entry is not None and entry.running() else None
        return ref if ref is not None and ref.is_alive() else None

    def watch(self, watcher: pykka.ActorRef[Any], name: str) -> None:
        """Tell `watcher` Terminated when the running incarnation of `name` ends (at once if none runs)."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.running():
                entry.watchers.append(watcher)
                return
            if entry is not None and entry.reason is not None:
                notice = Terminated(name, entry.incarnation, entry.reason)
            else:
                notice = Terminated(
                    name, 0, ExitReason(NoSuchActor(f"no actor named {name!r} runs in this tree"))
                )
        tell_quietly(watcher, notice)
