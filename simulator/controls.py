"""The Simulator's in-process market-data controls: permissions, open/closed markets, the clock and a
competing live session (the admin endpoint's GET/POST /entitlements, /market, /clock, /competing-session)."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from possync.simulator.entitlements import ContractEntitlement
from possync.simulator.marketaccess import MarketView

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway

T = TypeVar("T")


class MarketDataControls:
    """Mixed into `Simulator`: every method is thread-safe (it runs on the simulator's loop thread)."""

    _gateway: "Gateway"

    def _call(self, operation: Callable[[], T]) -> T:
        """Run `operation` on the loop thread (the Simulator's own)."""
        raise NotImplementedError

    def entitlements(self) -> list[ContractEntitlement]:
        """The market-data permissions of every contract the gateway knows."""
        return self._call(self._gateway.access.entitlement_views)

    def set_entitlements(
        self, conids: Iterable[int], *, live: bool | None = None, delayed: bool | None = None
    ) -> list[ContractEntitlement]:
        """Grant or withdraw live permission and delayed data for conids (None keeps one as it is), for
        later requests; ValueError naming an unknown conid."""
        wanted = list(conids)
        return self._call(lambda: self._gateway.access.set_entitlements(wanted, live, delayed))

    def market(self) -> MarketView:
        """Every market's mode (`open`, `closed`, `hours`), the per-conid modes and the clock."""
        return self._call(self._gateway.access.market_view)

    def set_market_open(self, is_open: bool | None, conids: Iterable[int] | None = None) -> MarketView:
        """Force markets open (True) or closed (False), or let them follow their trading hours (None):
        every market (dropping per-conid modes) when `conids` is None, else those conids."""
        wanted = None if conids is None else list(conids)
        return self._call(lambda: self._gateway.access.set_market(is_open, wanted))

    def set_clock(self, *, offset_s: float | None = None, at: datetime | None = None) -> MarketView:
        """Move the simulator's clock `offset_s` seconds from the real time, or to `at` (an aware time)."""
        return self._call(lambda: self._gateway.access.set_clock(offset_s, at))

    def set_competing_session(self, on: bool) -> int:
        """Start (True) or end a competing live session; return how many live subscriptions got 10197."""
        return self._call(lambda: self._gateway.access.set_competing(on))
