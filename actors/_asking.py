"""Asking another actor of the tree by its stable name, with a deadline and one kind of failure to handle;
telling it; handing streamed observations to the update handlers."""

from collections.abc import Sequence
from typing import Any

import pykka

from possync.actors.names import UPDATES
from possync.messages.domain import Observation
from possync.messages.streams import Deliver, Updates
from possync.supervisors import ChildContext


class Unavailable(Exception):
    """The named actor is not running, did not answer in time, or failed answering; `str` says which."""


def ask_by_name(ctx: ChildContext, name: str, message: Any, timeout_s: float) -> Any:
    """The answer of the actor called `name` to `message`; raises Unavailable instead of waiting longer."""
    ref = ctx.tree.whereis(name)
    what = type(message).__name__
    if ref is None:
        raise Unavailable(f"{name} is not running")
    try:
        return ref.ask(message, timeout=timeout_s)
    except pykka.Timeout:
        raise Unavailable(f"{name} did not answer {what} within {timeout_s:g}s") from None
    except pykka.ActorDeadError:
        raise Unavailable(f"{name} stopped before answering {what}") from None
    except Exception as error:  # a failure inside the other actor's handler: report it, do not crash here
        raise Unavailable(f"{name} failed answering {what}: {error!r}") from error


def to_handlers(ctx: ChildContext, deliver: Deliver, rows: Sequence[Observation]) -> None:
    """Streamed observations to the inline update handlers (`deliver`), then, unless every handler is
    inline, to the update dispatcher."""
    if rows and deliver(rows):
        tell_by_name(ctx, UPDATES, Updates(tuple(rows)))


def tell_by_name(ctx: ChildContext, name: str, message: Any) -> bool:
    """Tell `message` to the actor called `name`; False (and nothing sent) if it is not running."""
    ref = ctx.tree.whereis(name)
    if ref is None:
        return False
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True
