"""SlotAllocatorActor: the market-data line budget of one gateway session (a `SlotLedger` with a voice).

Receives: AcquireSlot, ReleaseSlot (streams; ReleaseSlot also from a released line lease, and from the
          connection for lent lines); SlotRefused (connection); RegrowBudget, ReconcileSlots (its timers);
          BorrowLines (ask: poller); GetSlotStatus (ask).
Sends:    SlotGranted, SlotQueued, DemoteSlot → the requesting stream (that incarnation); Unsubscribe →
          CONNECTION (a reclaimed line); LinesLent as the answer to BorrowLines.
Owns:     the ledger of this session's lines (its epoch: this incarnation's number), the regrow and
          reconcile timers.

A stream that asks is granted a line or queued (then granted one later: the promotion); it gives the line
back (`ReleaseSlot`) when it is done with it or demoted for a more important contract. A line the gateway
refused (101) shrinks the effective budget to what is held; it grows back by one line every
`slots.regrow_s`. Leases carry the
epoch (the allocator restarts with the connection, so a new session starts a new ledger); anything about
an older epoch is a no-op. `LinesLent` lends the poller the lines free now (none while a stream waits),
never a promise; they come back as `ReleaseSlot` (or `SlotRefused`). Every `slots.reconcile_s` the ledger
is checked against live holders: a holder found dead twice in a row lost its line without giving it back,
which is reported and reclaimed (its subscription cancelled). The allocator only ever tells: it never
waits on anyone.
"""

from typing import Any

import pykka
from loguru import logger

from possync.actors import SelfTimer, tell_by_name
from possync.actors.names import CONNECTION
from possync.actors.streaming._ledger import Action, Demote, Holder, Promote, Reclaim, SlotLedger
from possync.config.settings import SlotSettings
from possync.messages.connection import Unsubscribe
from possync.messages.slots import (
    AcquireSlot,
    DemoteSlot,
    GetSlotStatus,
    ReconcileSlots,
    RegrowBudget,
    ReleaseSlot,
    SlotGranted,
    SlotHolding,
    SlotLease,
    SlotQueued,
    SlotRefused,
    SlotStatus,
)
from possync.messages.snapshots import BorrowLines, LinesLent
from possync.supervisors import ChildContext, SupervisedActor


class SlotAllocatorActor(SupervisedActor):
    """The line budget (see the module docstring); ask it `GetSlotStatus`."""

    ctx: ChildContext

    def __init__(self, ctx: ChildContext, settings: SlotSettings) -> None:
        super().__init__(ctx)
        self._settings = settings
        self.epoch = ctx.incarnation
        self._ledger = SlotLedger(settings.budget, settings.preempt)
        self._refusals = self._demotions = self._leaks = 0
        self._seen_dead: set[tuple[str, int]] = set()

    def on_start(self) -> None:
        """Start the reconcile timer."""
        self._regrow = SelfTimer(self.ctx, self.actor_ref)
        self._reconcile = SelfTimer(self.ctx, self.actor_ref)
        self._reconcile.arm(self._settings.reconcile_s, ReconcileSlots())

    def on_stop(self) -> None:
        """Stop the timers."""
        self._regrow.cancel()
        self._reconcile.cancel()

    def on_receive(self, message: Any) -> Any:
        """Dispatch one message (see the module docstring)."""
        match message:
            case AcquireSlot():
                self._acquire(message)
            case BorrowLines():
                return self._lend(message)
            case ReleaseSlot(lease=lease) if lease.epoch == self.epoch:
                self._carry_out(self._ledger.release(lease.lease_id))
            case SlotRefused(lease=lease) if lease.epoch == self.epoch:
                self._refused(lease)
            case ReleaseSlot() | SlotRefused():
                pass  # a lease of an older epoch: that session, and its lines, are gone
            case RegrowBudget():
                self._carry_out(self._ledger.regrow())
                self._arm_regrow()
            case ReconcileSlots():
                self._reconcile_holders()
                self._reconcile.arm(self._settings.reconcile_s, ReconcileSlots())
            case GetSlotStatus():
                return self._status()
            case _:
                logger.warning("slot allocator: ignored unexpected message {!r}", message)
        return None

    def _acquire(self, request: AcquireSlot) -> None:
        r = request
        holder = Holder(r.holder, r.incarnation, r.conid, r.priority, r.reply_to)
        lease_id, actions = self._ledger.request(holder)
        self._carry_out(actions)
        if lease_id is not None:
            self._offer(holder, lease_id)
        elif not _tell(holder, SlotQueued(self.epoch)):
            self._carry_out(self._ledger.remove(holder.name, holder.incarnation))

    def _lend(self, request: BorrowLines) -> LinesLent:
        r = request
        lent = self._ledger.lend(Holder(r.holder, r.incarnation, 0, 0, r.reply_to), r.lines)
        if lent:
            return LinesLent(tuple(self._lease(lease_id) for lease_id in lent))
        ledger = self._ledger
        if ledger.waiting:
            return LinesLent((), f"{ledger.waiting} streams wait for a line")
        return LinesLent((), f"all {ledger.effective_budget} lines of the budget are held")

    def _refused(self, lease: SlotLease) -> None:
        self._refusals += 1
        self._carry_out(self._ledger.refuse(lease.lease_id))
        logger.info(
            "line budget shrinks to {} of {} after a refusal (101); it grows back every {}s",
            self._ledger.effective_budget,
            self._ledger.budget,
            self._settings.regrow_s,
        )
        self._arm_regrow()

    def _arm_regrow(self) -> None:
        if self._ledger.effective_budget < self._ledger.budget:
            self._regrow.arm(self._settings.regrow_s, RegrowBudget())

    def _carry_out(self, actions: list[Action]) -> None:
        """Tell the holders (and the connection) what the ledger decided."""
        for action in actions:
            match action:
                case Promote(holder=holder, lease_id=lease_id):
                    self._offer(holder, lease_id)
                case Demote(holder=holder, lease_id=lease_id):
                    self._demote(holder, lease_id)
                case Reclaim(holder=holder, lease_id=lease_id):
                    self._reclaim(holder, lease_id)

    def _demote(self, holder: Holder, lease_id: int) -> None:
        self._demotions += 1
        logger.info("demoting {} (priority {}) for a more important contract", holder.name, holder.priority)
        _tell(holder, DemoteSlot(self._lease(lease_id)))  # if it is gone, its release is on the way

    def _reclaim(self, holder: Holder, lease_id: int) -> None:
        self._leaks += 1
        logger.warning(
            "reclaimed line {} of {} (incarnation {}): it is gone without giving it back",
            lease_id,
            holder.name,
            holder.incarnation,
        )
        tell_by_name(self.ctx, CONNECTION, Unsubscribe(self._lease(lease_id)))

    def _offer(self, holder: Holder, lease_id: int) -> None:
        """Grant `lease_id` to `holder`; if it is gone, nothing was subscribed: the line is free again."""
        if not _tell(holder, SlotGranted(self._lease(lease_id))):
            self._carry_out(self._ledger.release(lease_id))

    def _reconcile_holders(self) -> None:
        """Forget holders found dead on two checks in a row (once may be a release still on its way)."""
        dead = {(h.name, h.incarnation) for h in self._ledger.entries() if not h.reply_to.is_alive()}
        for name, incarnation in dead & self._seen_dead:
            self._carry_out(self._ledger.remove(name, incarnation))
        self._seen_dead = dead - self._seen_dead

    def _lease(self, lease_id: int) -> SlotLease:
        return SlotLease(lease_id, self.epoch)

    def _status(self) -> SlotStatus:
        ledger = self._ledger
        holdings = tuple(
            SlotHolding(lease_id, h.name, h.incarnation, h.conid, h.priority, h.short)
            for lease_id, h in ledger.leases().items()
        )
        return SlotStatus(
            epoch=self.epoch,
            budget=ledger.budget,
            effective_budget=ledger.effective_budget,
            holdings=holdings,
            waiting=ledger.waiting,
            refusals=self._refusals,
            demotions=self._demotions,
            leaks=self._leaks,
        )


def _tell(holder: Holder, message: Any) -> bool:
    """Tell `holder` (that incarnation) `message`; False if it is gone."""
    try:
        holder.reply_to.tell(message)
    except pykka.ActorDeadError:
        return False
    return True
