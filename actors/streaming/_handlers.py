"""Callbacks for streamed observations: how an embedding program receives real-time updates.

Handlers run in the session's update dispatcher (`_dispatcher`), one observation at a time
and never two at once, in the order the observations were made: keep them quick (hand the work to a queue
or an actor of your own), as a slow one delays the next updates. A handler that raises is logged and
skipped; the stream goes on.
"""

import threading
from collections.abc import Callable

from loguru import logger

from possync.messages.domain import Observation

Handler = Callable[[Observation], None]


class StreamHandlers:
    """A thread-safe set of handlers; `add` returns the function that removes the handler again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: tuple[Handler, ...] = ()

    def add(self, handler: Handler) -> Callable[[], None]:
        """Call `handler(observation)` for every streamed observation from now on."""
        with self._lock:
            self._handlers = (*self._handlers, handler)

        def remove() -> None:
            with self._lock:
                self._handlers = tuple(h for h in self._handlers if h is not handler)

        return remove

    def dispatch(self, observation: Observation) -> None:
        """Hand `observation` to every handler; a failing one is logged, never raised."""
        for handler in self._handlers:
            try:
                handler(observation)
            except Exception:
                logger.exception(
                    "stream handler {!r} failed on conid {}", handler, observation.contract.conid
                )
