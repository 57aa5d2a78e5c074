"""One log line per burst of refusals: the first refusal of a code is logged with its text; those of the
same code within `window_s` after it are only counted, and logged as one line with their count by the
first refusal of that code after the window (a competing session refuses every line at once)."""

import time
from collections.abc import Callable

from loguru import logger


class RefusalLog:
    """Logs the gateway's market-data refusals by code, a burst as one line (see the module docstring)."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._since: dict[int, float] = {}  # by code: when its window opened
        self._folded: dict[int, int] = {}  # by code: refusals counted in that window, not logged

    def refused(self, code: int, text: str, conid: int) -> None:
        """The gateway refused market data for `conid` with `code` and `text`."""
        now = self._clock()
        if now - self._since.get(code, -self._window_s - 1) <= self._window_s:
            self._folded[code] = self._folded.get(code, 0) + 1
            return
        folded = self._folded.pop(code, 0)
        if folded:
            logger.warning("gateway refused {} more market-data requests with {} since", folded, code)
        self._since[code] = now
        logger.warning("gateway refused market data for conid {}: {} {}", conid, code, text)
