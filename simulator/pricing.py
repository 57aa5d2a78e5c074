"""Marks and valuations: one price per contract, and the P&L figures every message derives from it.

pnlSingle, pnl, updatePortfolio and the account values all value a position the same way:

    mark       stock: its last trade if quoted, else its reference price; option: Black-Scholes at its
               volatility and the underlying's mark (rounded to 4 decimals, at least 0.01)
    value      position x mark x multiplier
    unrealized value - position x avgCost  (avgCost per unit, an option's already x multiplier, as IB's)
    daily      position x (mark - day open) x multiplier; the day open is the contract's reference price
               (the close tick 9 of its line: the simulator has no overnight gap)
    realized   what set_position closed today: closed quantity x (mark x multiplier - avgCost), signed
"""

from typing import TYPE_CHECKING

import msgspec

from possync.simulator.greeks import Greeks, black_scholes, mark_price, years_to_expiry
from possync.simulator.instruments import ContractQuery, DemoContract
from possync.simulator.portfolio import DemoPosition, Portfolio

if TYPE_CHECKING:
    from possync.simulator.market import Market

_DECIMALS = 2
"""Money values are rounded to cents."""


class Valuation(msgspec.Struct, frozen=True, kw_only=True):
    """One position valued at the current mark: what pnlSingle and updatePortfolio report for it.

    `realized` is None while the position has not traded today (pnlSingle then sends IB's unset value).
    """

    account: str
    conid: int
    position: float
    avg_cost: float
    price: float
    value: float
    unrealized: float
    daily: float
    realized: float | None


class Ledger:
    """Realized P&L per (account, conid) of the positions `set_position` changed today."""

    def __init__(self) -> None:
        self._realized: dict[tuple[str, int], float] = {}

    def trade(self, before: float, after: DemoPosition, unit_price: float) -> None:
        """Record a change from `before` to `after.position` at `unit_price` (mark x multiplier)."""
        closed = _closed(before, after.position)
        gain = closed * (1.0 if before > 0 else -1.0) * (unit_price - after.avg_cost)
        key = (after.account, after.conid)
        self._realized[key] = round(self._realized.get(key, 0.0) + gain, _DECIMALS)

    def realized(self, account: str, conid: int) -> float | None:
        """The day's realized P&L of one position; None when it has not traded today."""
        return self._realized.get((account, conid))


def _closed(before: float, after: float) -> float:
    """How much of a `before` position a change to `after` closed."""
    if before == 0 or (after != 0 and (after > 0) == (before > 0) and abs(after) >= abs(before)):
        return 0.0
    if after == 0 or (after > 0) != (before > 0):
        return abs(before)
    return abs(before) - abs(after)


class Pricing:
    """The marks of every contract, consistent with the quotes the market streams."""

    def __init__(self, portfolio: Portfolio, market: "Market") -> None:
        self._portfolio = portfolio
        self._market = market
        self.ledger = Ledger()

    def underlying(self, option: DemoContract) -> DemoContract:
        """The stock an option follows: the portfolio's (by conid, else symbol), or a synthetic one."""
        known = self._portfolio.contract(option.under_conid)
        if known is None:
            stocks = self._portfolio.match(ContractQuery(symbol=option.symbol, sec_type="STK"))
            known = stocks[0] if stocks else None
        return known or DemoContract(
            conid=-option.conid, symbol=option.symbol, sec_type="STK", price=option.strike
        )

    def years(self, option: DemoContract) -> float:
        """An option's time to expiry, in years from the portfolio's date."""
        return years_to_expiry(option.expiry, self._portfolio.as_of)

    def model(self, option: DemoContract) -> Greeks:
        """An option's model computation at its underlying's current mark."""
        spot = self.mark(self.underlying(option))
        return black_scholes(spot, option.strike, self.years(option), option.volatility, option.right)

    def mark(self, contract: DemoContract) -> float:
        """A contract's current price (see the module docstring)."""
        if contract.sec_type == "OPT" and contract.volatility > 0:
            return mark_price(self.model(contract).price)
        return self._market.price(contract.conid) or contract.price

    def valuation(self, position: DemoPosition) -> Valuation:
        """One position valued at the current mark."""
        contract = self._portfolio.contract(position.conid)
        assert contract is not None, "a position always refers to a known contract"
        price = self.mark(contract)
        factor = contract.price_factor
        value = position.position * price * factor
        return Valuation(
            account=position.account,
            conid=position.conid,
            position=position.position,
            avg_cost=position.avg_cost,
            price=price,
            value=round(value, _DECIMALS),
            unrealized=round(value - position.position * position.avg_cost, _DECIMALS),
            daily=round(position.position * (price - contract.price) * factor, _DECIMALS),
            realized=self.ledger.realized(position.account, position.conid),
        )
