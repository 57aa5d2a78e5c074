"""One incarnation of a child: started synchronously (OTP start_link), stopped by a deadline, or abandoned."""

from collections.abc import Callable
from typing import Any

import pykka

from possync.supervisors.actor import ChildContext
from possync.supervisors.errors import Abandoned
from possync.supervisors.messages import ExitReason, Ping
from possync.supervisors.spec import Spec


class Incarnation:
    """A child's current run: its spec, its context (leases, exit record) and its ref once started."""

    def __init__(
        self, spec: Spec, ctx: ChildContext, starter: Callable[[Spec, ChildContext], pykka.ActorRef[Any]]
    ) -> None:
        """`starter(spec, ctx)` starts the actor (and returns before its on_start has run)."""
        self.spec = spec
        self.ctx = ctx
        self.ref: pykka.ActorRef[Any] | None = None
        self._starter = starter

    @property
    def number(self) -> int:
        """The incarnation number (1 for the first start of a child)."""
        return self.ctx.incarnation

    def start(self) -> ExitReason | None:
        """Start the actor and wait (with the spec's start timeout) until its on_start has run.

        Returns None once it is up, or why it did not come up; then nothing of it is left running
        (a constructor failure, an on_start failure, or an on_start that did not finish in time and was
        abandoned).
        """
        timeout_s = self.spec.start_timeout_s
        assert timeout_s is not None  # set by the spec
        try:
            self.ref = self._starter(self.spec, self.ctx)
        except Exception as error:  # the constructor failed: no thread ever ran
            return self.ctx.end(ExitReason(error))
        self.ctx.tree.names.register(self.ctx.name, self.number, self.ref)
        try:
            self.ref.ask(Ping(), timeout=timeout_s)
        except pykka.Timeout:
            return self.abandon(f"did not finish on_start within {timeout_s}s")
        except pykka.ActorDeadError:
            if not self.ctx.wait_ended(timeout_s):
                return self.abandon(f"failed on_start but did not exit within {timeout_s}s")
            return self.ctx.reason
        return None

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop it, waiting up to `timeout_s` (default: the spec's); True if it ended, False if abandoned."""
        if self.ref is None:
            return True
        timeout_s = self.spec.shutdown_timeout_s if timeout_s is None else timeout_s
        assert timeout_s is not None  # set by the spec
        self.ref.stop(block=False)
        if self.ctx.wait_ended(timeout_s):
            return True
        self.abandon(f"did not stop within {timeout_s}s")
        return False

    def abandon(self, why: str) -> ExitReason:
        """Give up on a stuck incarnation: mark it dead, unregister it from pykka, release its leases."""
        if self.ref is not None:
            self.ref.actor_stopped.set()
            pykka.ActorRegistry.unregister(self.ref)
        return self.ctx.end(ExitReason(Abandoned(f"{self.ctx.name!r} incarnation {self.number} {why}")))
