"""The lake writer's recent commit times and sizes: what `/status` shows and what adaptive batching uses."""

from collections import deque

WINDOW = 256
"""How many recent commits (that wrote rows) the figures are over."""


class CommitTimes:
    """A sliding window of (seconds, rows) of the writer's recent commits."""

    def __init__(self, window: int = WINDOW) -> None:
        self._seconds: deque[float] = deque(maxlen=window)
        self._rows: deque[int] = deque(maxlen=window)

    def add(self, seconds: float, rows: int) -> None:
        """Record one commit that wrote `rows` rows in `seconds`."""
        self._seconds.append(seconds)
        self._rows.append(rows)

    def seconds(self, quantile: float) -> float:
        """The `quantile` (0..1) of the recent commit times; 0.0 before the first commit."""
        return _quantile(sorted(self._seconds), quantile) if self._seconds else 0.0

    def rows_median(self) -> int:
        """The median rows per recent commit; 0 before the first."""
        return int(_quantile(sorted(self._rows), 0.5)) if self._rows else 0


def _quantile(ordered: list, quantile: float) -> float:
    """The nearest-rank quantile of a sorted, non-empty list."""
    return float(ordered[min(len(ordered) - 1, int(quantile * len(ordered)))])
