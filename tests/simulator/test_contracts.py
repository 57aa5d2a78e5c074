"""Contract details (qualifyContracts) and the gateway clock through both clients."""

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from possync.simulator import Simulator


def test_a_known_stock_qualifies_with_its_conid_and_primary_exchange(ib: Any, client: ModuleType) -> None:
    stock = client.Stock("AAPL", "SMART", "USD")
    assert ib.qualifyContracts(stock) == [stock]
    assert (stock.conId, stock.primaryExchange, stock.exchange) == (265598, "NASDAQ", "SMART")


def test_a_held_option_qualifies_from_its_description(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    held = next(p for p in simulator.positions() if p.sec_type == "OPT")
    option = client.Option(held.symbol, held.expiry, held.strike, held.right, "SMART")
    assert ib.qualifyContracts(option) == [option]
    assert (option.conId, option.multiplier, option.localSymbol) == (held.conid, "100", held.local_symbol)


def test_a_contract_qualifies_from_its_conid_alone(ib: Any, client: ModuleType) -> None:
    contract = client.Contract(conId=756733, exchange="SMART")
    ib.qualifyContracts(contract)
    assert (contract.symbol, contract.secType) == ("SPY", "STK")


def test_an_unknown_contract_gets_error_200_and_no_details(ib: Any, client: ModuleType) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    unknown = client.Stock("NOPE", "SMART", "USD")
    # nothing qualified: ib_insync leaves the contract out, ib_async puts None in its place
    assert [c for c in ib.qualifyContracts(unknown) if c] == []
    assert unknown.conId == 0
    assert [code for _, code in errors] == [200]
    assert errors[0][0] > 0  # the error names the failed request


def test_an_ambiguous_description_returns_every_match(
    simulator: Simulator, ib: Any, client: ModuleType
) -> None:
    symbol = next(p.symbol for p in simulator.positions() if p.sec_type == "OPT")
    details = ib.reqContractDetails(client.Contract(symbol=symbol))
    assert len(details) >= 2
    assert {d.contract.secType for d in details} == {"STK", "OPT"}


def test_current_time_is_the_gateway_clock(ib: Any) -> None:
    assert abs((ib.reqCurrentTime() - datetime.now(UTC)).total_seconds()) < 60
