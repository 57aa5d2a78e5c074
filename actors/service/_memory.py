"""Gives the heap memory the process freed back to the operating system, every `memory.trim_interval_s`.

Runs: a daemon thread of its own (`possync-memory`), started and stopped by the `Service` facade.
Calls: glibc's `malloc_trim(0)` (where the C library has one; elsewhere it does nothing).
Owns: nothing but that thread.

Why: glibc keeps the memory a thread frees in that thread's arena for reuse. A service whose threads
allocate in bursts (Arrow conversion of a batch, a Delta commit, a session restart that rebuilds the IB
client's objects) ends up with pages that are free inside malloc but still resident: in the soaks, malloc's
"free but kept" memory climbed from about 23 to 55 MiB over the first hour (`bench/RESULTS.md`).
`malloc_trim(0)` returns the whole free pages of every arena (madvise) without moving anything; it costs
0.3 ms with nothing to give back and 10 ms for 190 MiB, outside the GIL (ctypes releases it), so no
Python thread waits for it. Dask's documentation gives its workers the same call for the same reason
("Memory not released back to the OS"). It is process-wide and changes nothing but the RSS; 0 turns it off.
"""

import ctypes
import ctypes.util
import time
from collections.abc import Callable

from loguru import logger

from possync.actors.service._periodic import Periodic


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)` as a callable, or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (AttributeError, OSError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


RELEASE = _malloc_trim()
"""Release the free heap pages of every arena (None: this C library cannot)."""


class MemoryTrim(Periodic):
    """Calls `release` every `interval_s` in a daemon thread until `stop()` (see the module docstring)."""

    def __init__(self, interval_s: float, release: Callable[[], object] | None = RELEASE) -> None:
        super().__init__(interval_s, "possync-memory")
        self.trims = 0
        self._release = release

    @property
    def enabled(self) -> bool:
        """True when there is something to call and an interval to call it at."""
        return self._release is not None and self.interval_s > 0

    def start(self) -> None:
        """Start trimming (nothing when disabled)."""
        if self.enabled:
            super().start()

    def tick(self) -> None:
        """One period: trim."""
        self.trim()

    def trim(self) -> None:
        """Release once now and log how long it took (DEBUG)."""
        if self._release is None:
            return
        started = time.perf_counter()
        self._release()
        self.trims += 1
        logger.debug("memory: free heap pages released in {:.1f} ms", (time.perf_counter() - started) * 1000)
