"""Market data permissions: which contracts the login may see live, and for which delayed data is available.

Market data subscriptions belong to the IB user (the login), not to an account: every account the
gateway manages shares them, so a permission here is per contract. The defaults come from the config
(`no_live_sec_types`, `no_live_fraction` drawn per conid from the seed, `delayed_data`); the admin
endpoint and `Simulator.set_entitlements` override them per conid. A change applies to later requests.
"""

import random
from collections.abc import Iterable

import msgspec

from possync.simulator.config import SimulatorConfig
from possync.simulator.instruments import DemoContract


class Entitlement(msgspec.Struct, frozen=True):
    """What the login may see of one contract: live data, and whether delayed data is available."""

    live: bool
    delayed: bool


class ContractEntitlement(msgspec.Struct, frozen=True, kw_only=True):
    """One contract's permissions as `GET /entitlements` shows them (`overridden`: set over the admin API)."""

    conid: int
    symbol: str
    sec_type: str
    local_symbol: str
    live: bool
    delayed: bool
    overridden: bool


class Entitlements:
    """The permissions of every contract: the config's defaults and per-conid overrides.

    Not thread-safe: the simulator's event loop owns it.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self._no_live_types = frozenset(config.no_live_sec_types)
        self._fraction = config.no_live_fraction
        self._seed = config.seed
        self._delayed = config.delayed_data
        self._overrides: dict[int, Entitlement] = {}

    def of(self, contract: DemoContract) -> Entitlement:
        """The permissions in force for a contract."""
        return self._overrides.get(contract.conid) or self.default(contract)

    def default(self, contract: DemoContract) -> Entitlement:
        """A contract's permissions from the config alone."""
        live = contract.sec_type not in self._no_live_types and not self._drawn(contract.conid)
        return Entitlement(live=live, delayed=self._delayed)

    def set(self, contracts: Iterable[DemoContract], live: bool | None, delayed: bool | None) -> None:
        """Override the permissions of `contracts`; None keeps that permission as it is."""
        for contract in contracts:
            now = self.of(contract)
            self._overrides[contract.conid] = Entitlement(
                live=now.live if live is None else live, delayed=now.delayed if delayed is None else delayed
            )

    def view(self, contract: DemoContract) -> ContractEntitlement:
        """One contract's permissions, for the admin endpoint and `Simulator.entitlements()`."""
        entitlement = self.of(contract)
        return ContractEntitlement(
            conid=contract.conid,
            symbol=contract.symbol,
            sec_type=contract.sec_type,
            local_symbol=contract.local_symbol,
            live=entitlement.live,
            delayed=entitlement.delayed,
            overridden=contract.conid in self._overrides,
        )

    def _drawn(self, conid: int) -> bool:
        """Whether the seeded draw puts `conid` in the `no_live_fraction` (the same conids on every run)."""
        return self._fraction > 0 and random.Random(f"{self._seed}/{conid}").random() < self._fraction
