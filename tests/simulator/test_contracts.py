"""Contract details (qualifyContracts) and the gateway clock through ib_insync."""

from datetime import UTC, datetime

from ib_insync import IB, Contract, Option, Stock

from possync.simulator import Simulator


def test_a_known_stock_qualifies_with_its_conid_and_primary_exchange(ib: IB) -> None:
    stock = Stock("AAPL", "SMART", "USD")
    assert ib.qualifyContracts(stock) == [stock]
    assert (stock.conId, stock.primaryExchange, stock.exchange) == (265598, "NASDAQ", "SMART")


def test_a_held_option_qualifies_from_its_description(simulator: Simulator, ib: IB) -> None:
    held = next(p for p in simulator.positions() if p.sec_type == "OPT")
    option = Option(held.symbol, held.expiry, held.strike, held.right, "SMART")
    assert ib.qualifyContracts(option) == [option]
    assert (option.conId, option.multiplier, option.localSymbol) == (held.conid, "100", held.local_symbol)


def test_a_contract_qualifies_from_its_conid_alone(ib: IB) -> None:
    contract = Contract(conId=756733, exchange="SMART")
    ib.qualifyContracts(contract)
    assert (contract.symbol, contract.secType) == ("SPY", "STK")


def test_an_unknown_contract_gets_error_200_and_no_details(ib: IB) -> None:
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, *_: errors.append((req_id, code))
    assert ib.qualifyContracts(Stock("NOPE", "SMART", "USD")) == []
    assert [code for _, code in errors] == [200]
    assert errors[0][0] > 0  # the error names the failed request


def test_an_ambiguous_description_returns_every_match(simulator: Simulator, ib: IB) -> None:
    symbol = next(p.symbol for p in simulator.positions() if p.sec_type == "OPT")
    details = ib.reqContractDetails(Contract(symbol=symbol))
    assert len(details) >= 2
    assert {d.contract.secType for d in details} == {"STK", "OPT"}


def test_current_time_is_the_gateway_clock(ib: IB) -> None:
    assert abs((ib.reqCurrentTime() - datetime.now(UTC)).total_seconds()) < 60
