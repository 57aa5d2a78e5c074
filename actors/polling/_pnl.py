"""PnlActor: every `pnl.write_interval_s`, write the P&L values that changed, the latest per position.

Receives: PnlTick (its timer); GetPnlStats (ask).
Sends:    TakePnlRows (ask) → CONNECTION; WriteRows → LAKE_WRITER.
Owns:     its timer, rows the lake writer was not there to take (kept for the next tick), its counters.

The connection keeps the reqPnLSingle subscriptions (one per held position, up to `pnl.max_subscriptions`,
paced, asked again after 1101 and on every new session) and the client keeps their latest values; this
actor only takes the changed ones on its own beat, so a thousand positions updating every second cost the
lake writer one message per interval, not a thousand per second. Rows have source `pnl`: position, daily,
unrealized and realized P&L and market value from pnlSingle (IB's unset → null), the price they imply
(value / (position x multiplier)) and the average cost from the positions subscription.
"""

from loguru import logger

from possync.actors import TreeActor, Unavailable, ask_by_name, tell_by_name
from possync.actors.names import CONNECTION, LAKE_WRITER
from possync.config.settings import PnlSettings
from possync.messages.domain import Observation
from possync.messages.lake import WriteRows
from possync.messages.pnl import GetPnlStats, PnlStats, PnlTick, TakePnlRows
from possync.supervisors import ChildContext

ASK_TIMEOUT_S = 5.0


class PnlActor(TreeActor):
    """Writes the P&L channel's changed values in batches (see the module docstring)."""

    def __init__(self, ctx: ChildContext, settings: PnlSettings) -> None:
        super().__init__(ctx)
        self._settings = settings
        self._unwritten: list[Observation] = []
        self._stats = PnlStats()

    def on_start(self) -> None:
        """Take the first values one interval from now."""
        self.timer.arm(self._settings.write_interval_s, PnlTick())

    def on_stop(self) -> None:
        """Hand over what is left (the connection's values are taken again by the next session)."""
        super().on_stop()
        self._write()

    def on_receive(self, message: object) -> object:
        """`PnlTick`: take and write; `GetPnlStats`: the counters."""
        match message:
            case PnlTick():
                self._take()
                self._write()
                self.timer.arm(self._settings.write_interval_s, message)
            case GetPnlStats():
                return self._stats
            case _:
                logger.warning("pnl: ignored unexpected message {!r}", message)
        return None

    def _take(self) -> None:
        try:
            rows = ask_by_name(self.ctx, CONNECTION, TakePnlRows(), ASK_TIMEOUT_S)
        except Unavailable:
            self._count(unanswered=1)
            return
        if isinstance(rows, tuple):
            self._unwritten += rows

    def _write(self) -> None:
        if self._unwritten and tell_by_name(self.ctx, LAKE_WRITER, WriteRows(tuple(self._unwritten))):
            self._count(rows=len(self._unwritten), writes=1)
            self._unwritten = []

    def _count(self, rows: int = 0, writes: int = 0, unanswered: int = 0) -> None:
        s = self._stats
        self._stats = PnlStats(s.rows + rows, s.writes + writes, s.unanswered + unanswered)
