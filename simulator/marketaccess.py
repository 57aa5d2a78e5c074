"""The market-data rules in force on the gateway: permissions, the clock, open or closed markets, and a
competing live session; with the operations the admin endpoint and the Simulator expose on them."""

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from loguru import logger

from possync.simulator import outgoing
from possync.simulator.access import COMPETING_SESSION, Grant, Refusal, decide
from possync.simulator.entitlements import ContractEntitlement, Entitlements
from possync.simulator.hours import Clock, MarketHours, Mode, mode_name, schedule_of
from possync.simulator.instruments import DemoContract
from possync.simulator.protocol import error_text

if TYPE_CHECKING:
    from possync.simulator.config import SimulatorConfig
    from possync.simulator.market import Market
    from possync.simulator.portfolio import Portfolio
    from possync.simulator.stats import Counters


class MarketView(msgspec.Struct, frozen=True, kw_only=True):
    """The markets as `GET /market` shows them: the mode of all (`open`, `closed` or `hours`), the
    per-conid modes, the simulator's clock and its offset from the real time (s)."""

    mode: str
    conids: dict[int, str]
    now: datetime
    offset_s: float


class MarketAccess:
    """Who may see which market data, and when. Not thread-safe: the gateway's event loop owns it."""

    def __init__(
        self, config: "SimulatorConfig", portfolio: "Portfolio", market: "Market", counters: "Counters"
    ) -> None:
        self.clock = Clock(config.clock_offset_s)
        self.entitlements = Entitlements(config)
        self.hours = MarketHours(follow_hours=config.hours)
        self.competing = False
        self._portfolio = portfolio
        self._market = market
        self._counters = counters
        market.open_check = self.is_open

    def is_open(self, conid: int) -> bool:
        """Whether a known contract's market is open now (the pump asks this every cycle: keep it quick)."""
        mode = self.hours.mode_of(conid)
        if mode is not None:
            return mode
        contract = self._portfolio.contract(conid)
        return contract is None or schedule_of(contract).is_open(self.clock.now())

    def decide(self, contract: DemoContract, data_type: int) -> Refusal | Grant:
        """What a reqMktData for `contract` gets from a client in market data type `data_type`."""
        underlying = self._portfolio.contract(contract.under_conid) if contract.under_conid else None
        return decide(contract, underlying, self.entitlements, data_type, self.competing)

    def details_hours(self, contract: DemoContract) -> tuple[str, str, str]:
        """timeZoneId, tradingHours and liquidHours of a contract, as of the simulator's clock."""
        return schedule_of(contract).details(self.clock.now())

    def set_entitlements(
        self, conids: list[int], live: bool | None, delayed: bool | None
    ) -> list[ContractEntitlement]:
        """Override the permissions of known conids (None: keep that one); ValueError naming a bad conid."""
        contracts = self._contracts(conids)
        self.entitlements.set(contracts, live, delayed)
        logger.info("entitlements of {}: live {}, delayed {}", conids, live, delayed)
        return [self.entitlements.view(contract) for contract in contracts]

    def entitlement_views(self) -> list[ContractEntitlement]:
        """The permissions of every contract the gateway knows."""
        return [self.entitlements.view(contract) for contract in self._portfolio.contracts()]

    def set_market(self, mode: Mode, conids: list[int] | None = None) -> MarketView:
        """Force markets open (True) or closed (False), or let them follow their hours (None): every
        market (per-conid modes dropped) when `conids` is None, else those conids."""
        if conids is not None:
            self._contracts(conids)
        self.hours.set(mode, conids)
        logger.info("market {} for {}", mode_name(mode), "every contract" if conids is None else conids)
        return self.market_view()

    def set_clock(self, offset_s: float | None = None, at: datetime | None = None) -> MarketView:
        """Move the clock: `offset_s` from the real time, or to `at` (aware); exactly one is given."""
        if (offset_s is None) == (at is None):
            raise ValueError("give exactly one of offset_s (seconds from the real time) and at (a time)")
        if at is not None:
            self.clock.set_time(at)
        else:
            self.clock.set_offset(offset_s)  # type: ignore[arg-type]
        logger.info("the clock is now {} (offset {:.0f} s)", self.clock.now(), self.clock.offset_s)
        return self.market_view()

    def market_view(self) -> MarketView:
        """The markets' modes and the clock."""
        return MarketView(
            mode=mode_name(self.hours.mode),
            conids={conid: mode_name(mode) for conid, mode in sorted(self.hours.overrides.items())},
            now=self.clock.now(),
            offset_s=round(self.clock.offset_s, 3),
        )

    def set_competing(self, on: bool) -> int:
        """Start or end a competing live session; starting it silences every live subscription with 10197
        (their lines stay held). Ending it lets new requests stream; silenced ones stay silent. Returns
        how many subscriptions were silenced."""
        self.competing = on
        silenced = self._market.silence_live(_competing_notice) if on else 0
        self._counters.data_warnings[COMPETING_SESSION] += silenced
        logger.info("competing live session {}: {} subscriptions silenced", "on" if on else "off", silenced)
        return silenced

    def _contracts(self, conids: list[int]) -> list[DemoContract]:
        """The known contracts of `conids`; ValueError naming an unknown one (or an empty list)."""
        if not conids:
            raise ValueError("conids is empty: give at least one conid (GET /entitlements lists them)")
        contracts = [self._portfolio.contract(conid) for conid in conids]
        unknown = [conid for conid, contract in zip(conids, contracts, strict=True) if contract is None]
        if unknown:
            raise ValueError(f"unknown conid {unknown[0]}: use a known contract's conid (GET /entitlements)")
        return [contract for contract in contracts if contract is not None]


def _competing_notice(req_id: int) -> bytes:
    """The 10197 error a live subscription gets when a competing live session takes its data."""
    return outgoing.error(req_id, COMPETING_SESSION, error_text(COMPETING_SESSION))
