"""Callbacks for streamed observations: how an embedding program receives real-time updates.

Two kinds, both called one observation at a time and never two at once (each kind under its own
serialisation), in the order the observations were made; a handler that raises is logged and skipped and
the stream goes on:

- **queued** (the default): run in the session's update dispatcher (`_dispatcher`), a thread of their own,
  so a slow handler delays only the next updates, never the gateway's network loop or the lake.
- **inline** (`add(handler, inline=True)`): run in the thread that made the observation, right after it
  was made — for ticks the gateway's network thread, after each read — so an update costs no thread hop
  (the dispatcher's hand-off is the tick path's latency tail). An inline handler must be quick and must
  never block: no I/O, no waiting on the service (`status()`, `activate()`…), as it holds up the network
  loop and every stream with it. Hand anything more to a queue or an actor of your own.
"""

import threading
from collections.abc import Callable, Sequence

from loguru import logger

from possync.messages.domain import Observation

Handler = Callable[[Observation], None]


class StreamHandlers:
    """A thread-safe set of handlers; `add` returns the function that removes the handler again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: tuple[Handler, ...] = ()
        self._inline: tuple[Handler, ...] = ()
        self._inline_turn = threading.Lock()  # inline handlers run in several threads, never two at once

    def add(self, handler: Handler, inline: bool = False) -> Callable[[], None]:
        """Call `handler(observation)` for every streamed observation from now on (module docstring)."""
        with self._lock:
            if inline:
                self._inline = (*self._inline, handler)
            else:
                self._handlers = (*self._handlers, handler)

        def remove() -> None:
            with self._lock:
                self._handlers = tuple(h for h in self._handlers if h is not handler)
                self._inline = tuple(h for h in self._inline if h is not handler)

        return remove

    def deliver(self, observations: Sequence[Observation]) -> bool:
        """Producer → handlers: call the inline handlers now; True if queued handlers want them too."""
        inline = self._inline
        if inline:
            with self._inline_turn:
                for observation in observations:
                    _call(inline, observation)
        return bool(self._handlers)

    def dispatch(self, observation: Observation) -> None:
        """Hand `observation` to every queued handler; a failing one is logged, never raised."""
        _call(self._handlers, observation)


def _call(handlers: tuple[Handler, ...], observation: Observation) -> None:
    for handler in handlers:
        try:
            handler(observation)
        except Exception:
            logger.exception("stream handler {!r} failed on conid {}", handler, observation.contract.conid)
