"""The demo portfolio: deterministic per seed and date, realistic, and changeable with clear errors."""

import re
from datetime import date

import pytest

from possync.simulator.instruments import ContractQuery
from possync.simulator.portfolio import Portfolio

AS_OF = date(2025, 1, 6)


def _portfolio(seed: int = 7, accounts: tuple[str, ...] = ("DU1", "DU2"), count: int = 30) -> Portfolio:
    return Portfolio(accounts, count, seed, AS_OF)


def test_the_same_seed_and_date_give_the_same_portfolio() -> None:
    assert _portfolio().positions() == _portfolio().positions()
    assert _portfolio(seed=8).positions() != _portfolio().positions()


def test_every_account_gets_the_asked_number_of_distinct_open_positions() -> None:
    positions = _portfolio().positions()
    for account in ("DU1", "DU2"):
        mine = [p for p in positions if p.account == account]
        assert len(mine) == 30
        assert len({p.conid for p in mine}) == 30
        assert all(p.position != 0 for p in mine)


def test_positions_mix_stocks_and_realistic_options() -> None:
    portfolio = _portfolio()
    positions = portfolio.positions()
    assert {p.sec_type for p in positions} == {"STK", "OPT"}
    for p in positions:
        if p.sec_type == "STK":
            assert (p.expiry, p.strike, p.right, p.multiplier) == ("", 0.0, "", "")
            assert p.local_symbol == p.symbol
        else:
            assert p.multiplier == "100" and p.right in ("C", "P") and p.strike > 0
            expiry = date(int(p.expiry[:4]), int(p.expiry[4:6]), int(p.expiry[6:]))
            assert expiry > AS_OF and expiry.weekday() == 4  # a Friday after as_of
            assert re.fullmatch(rf"{p.symbol:<6}\d{{6}}[CP]\d{{8}}", p.local_symbol)
            underlying = portfolio.contract(portfolio.contract(p.conid).under_conid)
            assert underlying is not None and underlying.symbol == p.symbol


def test_a_contract_is_found_by_conid_or_by_its_description() -> None:
    portfolio = _portfolio()
    option = next(p for p in portfolio.positions() if p.sec_type == "OPT")
    by_conid = portfolio.match(ContractQuery(conid=option.conid))
    by_description = portfolio.match(
        ContractQuery(
            symbol=option.symbol,
            sec_type="OPT",
            expiry=option.expiry,
            strike=option.strike,
            right=option.right,
        )
    )
    assert [c.conid for c in by_conid] == [c.conid for c in by_description] == [option.conid]
    assert portfolio.match(ContractQuery(symbol="AAPL", sec_type="STK"))[0].conid == 265598
    assert portfolio.match(ContractQuery(symbol="NOPE", sec_type="STK")) == []
    assert portfolio.match(ContractQuery(sec_type="STK")) == []


def test_set_position_changes_opens_and_closes() -> None:
    portfolio = _portfolio(accounts=("DU1",))
    held = portfolio.positions()[0]
    assert portfolio.set_position(held.conid, 0).position == 0
    assert portfolio.position("DU1", held.conid).position == 0
    opened = portfolio.set_position(8314, 25)  # IBM: known, maybe not held
    assert (opened.account, opened.symbol, opened.position) == ("DU1", "IBM", 25)


def test_set_position_names_what_is_wrong() -> None:
    portfolio = _portfolio()
    with pytest.raises(ValueError, match="unknown conid 1"):
        portfolio.set_position(1, 5)
    with pytest.raises(ValueError, match="unknown account 'DU9'"):
        portfolio.set_position(265598, 5, account="DU9")
    portfolio.set_position(265598, 5, account="DU1")
    portfolio.set_position(265598, 5, account="DU2")
    with pytest.raises(ValueError, match="name the account"):
        portfolio.set_position(265598, 6)
