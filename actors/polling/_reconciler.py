"""ReconcilerActor: every `poller.reconcile_interval_s`, make the lake agree with the gateway's positions.

Receives: ReconcileTick (its timer); ReconcileNow (ask).
Sends:    PositionsRequest (ask) → CONNECTION; WriteRows (ask) → LAKE_WRITER.
Owns:     a reader of the latest row per position in `position_updates` (`LatestPositions`), its tick
          timer, the last report.

It asks the connection for the full position list and, if complete (after positionEnd), compares it with
the latest row per (account, conid) in `position_updates` (one query on start, then only the files
committed since), and writes every difference as an observation with source `reconcile` through the lake
writer (`_drift.find_drift`). So the lake converges even if an update was missed anywhere. The lake lags
the writer by up to `lake.flush_interval_s`: a position that changed just then may be written once more
by the reconciler, with the value the gateway has (harmless, never wrong).
"""

from pathlib import Path

from loguru import logger

from possync.actors import TreeActor, Unavailable, ask_by_name
from possync.actors.lake import LakeLocation, LatestPositions
from possync.actors.names import CONNECTION, LAKE_WRITER
from possync.actors.polling._drift import find_drift
from possync.messages.domain import utc_now
from possync.messages.lake import RowsAccepted, WriteRows
from possync.messages.poller import (
    PositionsReply,
    PositionsRequest,
    ReconcileNow,
    ReconcileReport,
    ReconcileTick,
)
from possync.supervisors import ChildContext

WRITE_TIMEOUT_S = 5.0


class ReconcilerActor(TreeActor):
    """Periodic drift repair (see the module docstring); ask it `ReconcileNow` for an immediate run."""

    def __init__(
        self,
        ctx: ChildContext,
        lake_root: str | Path | LakeLocation,
        interval_s: float,
        request_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(ctx)
        self._interval_s = interval_s
        self._request_timeout_s = request_timeout_s
        self._location = LakeLocation.of(lake_root)
        self._lake = LatestPositions(self._location)
        self.last_report = ReconcileReport(0, 0, "not run yet")

    def on_start(self) -> None:
        """Schedule the first comparison one interval from now (the gateway is still sending positions)."""
        self.timer.arm(self._interval_s, ReconcileTick())

    def on_receive(self, message: object) -> object:
        """`ReconcileTick` (timer) and `ReconcileNow` (ask) both run one comparison."""
        match message:
            case ReconcileTick():
                self._reconcile()
                self.timer.arm(self._interval_s, message)
            case ReconcileNow():
                return self._reconcile()
            case _:
                logger.warning("reconciler: ignored unexpected message {!r}", message)
        return None

    def _reconcile(self) -> ReconcileReport:
        self.last_report = report = self._compare()
        if report.skipped:
            logger.info("reconciler: skipped ({})", report.skipped)
        elif report.drift:
            logger.warning("reconciler: {} of {} positions drifted; repaired", report.drift, report.checked)
        return report

    def _compare(self) -> ReconcileReport:
        try:
            reply: PositionsReply = ask_by_name(
                self.ctx, CONNECTION, PositionsRequest(), self._request_timeout_s
            )
        except Unavailable as error:
            return ReconcileReport(0, 0, str(error))
        if not reply.complete:
            return ReconcileReport(0, 0, "the gateway has not finished sending positions")
        try:
            latest = self._lake.refresh()
        except Exception as error:  # the lake unreachable (object store down): compare next time
            return ReconcileReport(0, 0, f"cannot read the lake: {self._location.redact(str(error))}")
        drift = find_drift(reply, latest, utc_now())
        if drift:
            try:
                ack = ask_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(drift)), WRITE_TIMEOUT_S)
            except Unavailable as error:
                return ReconcileReport(len(reply.positions), 0, f"drift not written: {error}")
            if not isinstance(ack, RowsAccepted):
                return ReconcileReport(len(reply.positions), 0, f"drift rejected by the lake writer: {ack}")
        return ReconcileReport(len(reply.positions), len(drift))
