"""The last 15 minutes of the service in memory, for the status page's sparklines (`GET /history`).

`History` reads the status document once a second in a daemon thread of its own and keeps a bounded ring of
samples (`size`, 900 by default): ticks per second (summed over the streams' tick counters), rows
committed to the lake per second, and lines in use. A counter that goes back (a restarted stream or lake
writer starts again at 0) counts from 0, so a restart never shows as a negative rate.
"""

import threading
import time
from collections import deque
from collections.abc import Callable

import msgspec
from loguru import logger

from possync.actors.service._periodic import Periodic
from possync.messages.status import ServiceStatus

SAMPLE_EVERY_S = 1.0
SAMPLES = 900
"""15 minutes of one-second samples."""


class Sample(msgspec.Struct, frozen=True, array_like=True):
    """One point: Unix time (s), ticks per second, rows per second, lines in use (JSON: a 4-element array)."""

    t: float
    ticks_per_s: float
    rows_per_s: float
    lines_in_use: int


class HistoryDocument(msgspec.Struct, frozen=True):
    """What `GET /history` serves: the sample interval, a sample's field names, the samples (oldest first)."""

    interval_s: float
    fields: list[str]
    samples: list[Sample]


class History(Periodic):
    """A ring of `Sample`s taken from `status()` every `interval_s` (see the module docstring)."""

    def __init__(
        self,
        status: Callable[[], ServiceStatus],
        interval_s: float = SAMPLE_EVERY_S,
        size: int = SAMPLES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(interval_s, "possync-history")
        self._status = status
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._last: tuple[float, dict[int, int], int] | None = None  # time, ticks by conid, rows written

    def document(self) -> HistoryDocument:
        """The samples so far, oldest first."""
        with self._lock:
            samples = list(self._samples)
        return HistoryDocument(self.interval_s, list(Sample.__struct_fields__), samples)

    def record(self, status: ServiceStatus) -> None:
        """Add the sample of `status` (the first call only sets the baseline the next rates start from)."""
        now = self._clock()
        ticks = {stream.conid: stream.ticks for stream in status.streams}
        rows = status.lake.rows_written
        last, self._last = self._last, (now, ticks, rows)
        if last is None or now <= last[0]:
            return
        elapsed = now - last[0]
        tick_delta = sum(_grown(last[1].get(conid, 0), count) for conid, count in ticks.items())
        sample = Sample(
            round(now, 3),
            round(tick_delta / elapsed, 2),
            round(_grown(last[2], rows) / elapsed, 2),
            status.slots.in_use,
        )
        with self._lock:
            self._samples.append(sample)

    def tick(self) -> None:
        """Record one sample (a status read that fails skips this one)."""
        try:
            self.record(self._status())
        except Exception as error:  # a status read failed: skip this second, keep sampling
            logger.debug("history: status read failed: {!r}", error)


def _grown(before: int, now: int) -> int:
    """How much a counter grew; a counter that went back was restarted and grew `now` since."""
    return now - before if now >= before else now
