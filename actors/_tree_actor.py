"""A one-shot timer through which a supervised actor tells itself a message later (pykka has no timers).

The actor re-arms it after handling each tick, so a slow tick delays the next one instead of piling
ticks up in the inbox. A tick that fires after the actor is gone is dropped quietly.
"""

from typing import Any

import pykka

from possync.supervisors import ChildContext, SupervisedActor, Timer, tell_quietly


class SelfTimer:
    """At most one pending self-tell: `arm` replaces the pending one, `cancel` drops it."""

    def __init__(self, ctx: ChildContext, ref: pykka.ActorRef[Any]) -> None:
        self._scheduler = ctx.tree.scheduler
        self._ref = ref
        self._timer: Timer | None = None

    def arm(self, delay_s: float, message: Any) -> None:
        """Tell `message` to the actor in `delay_s` seconds (a pending tick is cancelled)."""
        self.cancel()
        self._timer = self._scheduler.schedule(max(0.0, delay_s), lambda: tell_quietly(self._ref, message))

    def cancel(self) -> None:
        """Drop the pending tick, if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class TreeActor(SupervisedActor):
    """Base of the queue, poller, reconciler and registry: runs inside a tree (names, clock), with one
    self-timer, cancelled on stop. Its context is `self.ctx` (SupervisedActor's), never None here.

    A subclass that overrides `on_stop` calls `super().on_stop()`.
    """

    ctx: ChildContext

    def __init__(self, ctx: ChildContext | None) -> None:
        if ctx is None:
            raise TypeError(
                f"{type(self).__name__} runs inside a supervision tree: start it with a ChildSpec"
            )
        super().__init__(ctx)
        self.timer = SelfTimer(ctx, self.actor_ref)

    def now(self) -> float:
        """The tree's clock (monotonic seconds; a fake clock in tests)."""
        return self.ctx.tree.clock.now()

    def on_stop(self) -> None:
        """Drop the pending tick."""
        self.timer.cancel()
