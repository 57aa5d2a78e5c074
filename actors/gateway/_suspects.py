"""Why the streams may be silent now (a data farm down, IB connectivity lost, a gateway that answers
nothing): the connection's bookkeeping of the reasons, and the `FeedSuspect` notice its streams get."""

from possync.messages.connection import FeedSuspect


class Suspects:
    """The reasons silence is expected now, by key (a farm, connectivity, the gateway's silence)."""

    def __init__(self) -> None:
        self._reasons: dict[object, str] = {}

    def __bool__(self) -> bool:
        return bool(self._reasons)

    def __contains__(self, key: object) -> bool:
        return key in self._reasons

    def set(self, key: object, reason: str) -> bool:
        """Record `reason` under `key`; True if that changed what the streams should be told."""
        changed = self._reasons.get(key) != reason
        self._reasons[key] = reason
        return changed

    def clear(self, key: object) -> bool:
        """Drop the reason under `key`; True if there was one."""
        return self._reasons.pop(key, None) is not None

    def reasons(self) -> tuple[str, ...]:
        """Every reason, in the order they arose."""
        return tuple(self._reasons.values())

    def notice(self) -> FeedSuspect:
        """What the streams are told: suspect or all clear, and why."""
        return FeedSuspect(bool(self._reasons), "; ".join(self._reasons.values()))
