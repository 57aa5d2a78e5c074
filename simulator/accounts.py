"""Account values (net liquidation, cash, ...) derived from an account's positions at current prices."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway

STARTING_CASH = 250_000.0


def account_values(gateway: "Gateway", account: str) -> list[tuple[str, str, str]]:
    """(tag, value, currency) of the account values a real gateway reports most often."""
    portfolio = gateway.portfolio
    values = []
    for pos in portfolio.positions():
        contract = portfolio.contract(pos.conid)
        if pos.account == account and contract is not None:
            values.append(pos.position * gateway.market_price(contract) * contract.price_factor)
    stock_value = sum(values)
    net_liquidation = STARTING_CASH + stock_value
    gross = sum(abs(v) for v in values)
    return [
        ("AccountCode", account, ""),
        ("AccountType", "INDIVIDUAL", ""),
        ("NetLiquidation", f"{net_liquidation:.2f}", "USD"),
        ("TotalCashValue", f"{STARTING_CASH:.2f}", "USD"),
        ("GrossPositionValue", f"{gross:.2f}", "USD"),
        ("AvailableFunds", f"{net_liquidation - 0.25 * gross:.2f}", "USD"),
        ("BuyingPower", f"{4 * (net_liquidation - 0.25 * gross):.2f}", "USD"),
    ]
