"""UpdateDispatcherActor: hands every streamed observation to the registered handlers, in its own thread.

Receives: Updates (connection: the observations of a read's ticks from its session's loop thread, of a
          position change from its own thread).
Sends:    nothing to other actors; each observation to the queued `StreamHandlers` (the facade's
          `on_update`; inline ones were called by the producer before it told this actor).
Owns:     no state; the handlers are the service's (it adds and removes them), queued ones only run here.

The feeds turn ticks and position changes into observations where they arrive, and the connection tells
them here in `Updates` at once (not at all when every handler is inline: `StreamHandlers.deliver`); the
dispatcher calls the handlers one observation at a time, in arrival order, so handlers never run
concurrently with each other and a slow one delays only the handlers, never the gateway's network loop
or the lake.
"""

from typing import Any

from loguru import logger

from possync.actors.streaming._handlers import StreamHandlers
from possync.messages.streams import Updates
from possync.supervisors import ChildContext, SupervisedActor


class UpdateDispatcherActor(SupervisedActor):
    """Calls the handlers for each observation told to it in `Updates` (see the module docstring)."""

    def __init__(self, ctx: ChildContext, handlers: StreamHandlers) -> None:
        super().__init__(ctx)
        self._handlers = handlers

    def on_receive(self, message: Any) -> None:
        """Dispatch the rows of an `Updates`."""
        match message:
            case Updates(rows=rows):
                for row in rows:
                    self._handlers.dispatch(row)
            case _:
                logger.warning("update dispatcher: ignored unexpected message {!r}", message)
