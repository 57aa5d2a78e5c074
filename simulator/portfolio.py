"""The seeded demo portfolio: which contract each account holds, how many, at what average cost."""

import random
from datetime import date

import msgspec

from possync.simulator.greeks import volatility
from possync.simulator.instruments import ContractQuery, DemoContract, expiries, option, stocks, strike_step

_STOCK_SHARE = 0.4
"""About this fraction of an account's positions are stocks, the rest options."""


class DemoPosition(msgspec.Struct, frozen=True, kw_only=True):
    """One account's position in one contract, as the admin endpoint and `Simulator.positions()` show it."""

    account: str
    conid: int
    symbol: str
    sec_type: str
    expiry: str
    strike: float
    right: str
    multiplier: str
    currency: str
    local_symbol: str
    position: float
    avg_cost: float


class Portfolio:
    """Every known contract and every account's positions, built deterministically from a seed.

    Not thread-safe: the simulator's event loop owns it while running.
    """

    def __init__(self, accounts: tuple[str, ...], per_account: int, seed: int, as_of: date) -> None:
        self.accounts = accounts
        self.as_of = as_of
        self._seed = seed
        self._contracts: dict[int, DemoContract] = {c.conid: c for c in stocks()}
        self._options: dict[tuple[str, str, float, str], int] = {}
        self._holdings: dict[tuple[str, int], tuple[float, float]] = {}
        rng = random.Random(seed)
        for account in accounts:
            self._fill(account, per_account, rng, as_of)

    def contract(self, conid: int) -> DemoContract | None:
        """The contract with this conid, or None when the gateway does not know it."""
        return self._contracts.get(conid)

    def contracts(self) -> list[DemoContract]:
        """Every contract the gateway knows: the stock universe, then the options listed so far."""
        return list(self._contracts.values())

    def match(self, query: ContractQuery) -> list[DemoContract]:
        """Every known contract that fits the query (none: unknown; several: ambiguous)."""
        return [c for c in self._contracts.values() if query.matches(c)]

    def positions(self) -> list[DemoPosition]:
        """Every position of every account, closed ones (position 0) included, in a stable order."""
        return [self.position(account, conid) for account, conid in self._holdings]

    def position(self, account: str, conid: int) -> DemoPosition:
        """The current position of `account` in `conid` (KeyError when it never held it)."""
        quantity, avg_cost = self._holdings[account, conid]
        c = self._contracts[conid]
        return DemoPosition(
            account=account,
            conid=conid,
            symbol=c.symbol,
            sec_type=c.sec_type,
            expiry=c.expiry,
            strike=c.strike,
            right=c.right,
            multiplier=c.multiplier,
            currency=c.currency,
            local_symbol=c.local_symbol,
            position=quantity,
            avg_cost=avg_cost,
        )

    def set_position(self, conid: int, quantity: float, account: str | None = None) -> DemoPosition:
        """Set a position (opening one in any known contract); raise ValueError naming a bad conid/account."""
        contract = self._contracts.get(conid)
        if contract is None:
            raise ValueError(f"unknown conid {conid}: use the conid of a known contract (GET /positions)")
        account = self._account_for(conid, account)
        _, avg_cost = self._holdings.get((account, conid), (0.0, contract.price * contract.price_factor))
        self._holdings[account, conid] = (float(quantity), avg_cost)
        return self.position(account, conid)

    def _account_for(self, conid: int, account: str | None) -> str:
        """The account a position change applies to: the given one, or the only one holding the conid."""
        if account is not None:
            if account not in self.accounts:
                raise ValueError(f"unknown account {account!r}: use one of {list(self.accounts)}")
            return account
        holders = [a for a in self.accounts if (a, conid) in self._holdings]
        if len(holders) > 1:
            raise ValueError(f"conid {conid} is held by {holders}: name the account")
        return holders[0] if holders else self.accounts[0]

    def _fill(self, account: str, count: int, rng: random.Random, as_of: date) -> None:
        """Give `account` `count` distinct positions: a sample of stocks, then options on them."""
        universe = stocks()
        for stock in rng.sample(universe, min(round(count * _STOCK_SHARE), len(universe))):
            quantity = rng.choice((-1, 1, 1, 1)) * rng.randint(1, 50) * 10
            self._hold(account, stock, quantity, stock.price * rng.uniform(0.85, 1.15))
        listed = expiries(as_of)
        held = sum(1 for a, _ in self._holdings if a == account)
        while held < count:
            contract = self._listed_option(rng.choice(universe), rng.choice(listed), rng, as_of)
            if (account, contract.conid) in self._holdings:
                continue
            premium = contract.price * contract.price_factor
            self._hold(
                account, contract, rng.choice((-1, 1)) * rng.randint(1, 20), premium * rng.uniform(0.7, 1.3)
            )
            held += 1

    def _listed_option(
        self, underlying: DemoContract, expiry: date, rng: random.Random, as_of: date
    ) -> DemoContract:
        """A random listed option near the money; the same option always gets the same conid."""
        step = strike_step(underlying.price)
        strike = max(step, round(underlying.price * rng.gauss(1.0, 0.08) / step) * step)
        right = rng.choice("CP")
        key = (underlying.symbol, f"{expiry:%Y%m%d}", strike, right)
        if key not in self._options:
            conid = rng.randrange(400_000_000, 800_000_000)
            while conid in self._contracts:
                conid += 1
            vol = volatility(self._seed, conid)
            self._contracts[conid] = option(underlying, expiry, strike, right, conid, as_of, vol)
            self._options[key] = conid
        return self._contracts[self._options[key]]

    def _hold(self, account: str, contract: DemoContract, quantity: float, avg_cost: float) -> None:
        """Record a starting position."""
        self._holdings[account, contract.conid] = (float(quantity), round(avg_cost, 4))
