"""Every message the simulator sends has exactly the field count ib_insync 0.9.86 expects at version 176.

ib_insync silently ignores surplus fields of most messages, so counting them here is the only guard
against a message that is too long; end-to-end tests catch the ones that are too short.
"""

import struct
from datetime import date

import pytest

from possync.simulator import outgoing, pnl
from possync.simulator.greeks import black_scholes
from possync.simulator.options import tick_option_computation
from possync.simulator.portfolio import Portfolio
from possync.simulator.pricing import Valuation

_PORTFOLIO = Portfolio(("DU1",), 10, seed=3, as_of=date(2025, 1, 6))
_STOCK_POSITION = next(p for p in _PORTFOLIO.positions() if p.sec_type == "STK")
_STOCK = _PORTFOLIO.contract(_STOCK_POSITION.conid)
_OPTION = next(
    c for p in _PORTFOLIO.positions() if (c := _PORTFOLIO.contract(p.conid)) and c.sec_type == "OPT"
)

_VALUED = Valuation(
    account="DU1", conid=_STOCK_POSITION.conid, position=_STOCK_POSITION.position, avg_cost=9.0, price=10.0,
    value=_STOCK_POSITION.position * 10.0, unrealized=_STOCK_POSITION.position, daily=0.0, realized=None,
)  # fmt: skip


def _fields(message: bytes) -> list[str]:
    (length,) = struct.unpack(">I", message[:4])
    payload = message[4:]
    assert len(payload) == length and payload.endswith(b"\0")
    return payload[:-1].decode().split("\0")


@pytest.mark.parametrize(
    ("message", "count"),
    [
        (outgoing.error(-1, 2104, "Market data farm connection is OK:usfarm"), 6),
        (outgoing.next_valid_id(1), 3),
        (outgoing.managed_accounts(("DU1", "DU2")), 3),
        (outgoing.current_time(1_700_000_000), 3),
        (outgoing.position(_STOCK_POSITION, _STOCK), 16),
        (outgoing.position_end(), 2),
        (outgoing.account_value("DU1", "NetLiquidation", "1.0", "USD"), 6),
        (outgoing.portfolio_value(_STOCK_POSITION, _STOCK, _VALUED), 20),
        (outgoing.account_update_time("12:00"), 3),
        (outgoing.account_download_end("DU1"), 3),
        (outgoing.account_update_multi(5, "DU1", "NetLiquidation", "1.0", "USD"), 8),
        (outgoing.account_update_multi_end(5), 3),
        (outgoing.account_summary(5, "DU1", "NetLiquidation", "1.0", "USD"), 7),
        (outgoing.account_summary_end(5), 3),
        (outgoing.open_order_end(), 2),
        (outgoing.completed_orders_end(), 1),
        (outgoing.execution_data_end(5), 3),
        (outgoing.contract_data(5, _STOCK, "SMART"), 40),
        (outgoing.contract_data(5, _OPTION, "SMART"), 40),
        (outgoing.contract_data_end(5), 3),
        (outgoing.tick_price(5, 1, 1.5, 100), 7),
        (outgoing.tick_size(5, 8, 100), 5),
        (outgoing.tick_snapshot_end(5), 3),
        (outgoing.market_data_type(5, 1), 4),
        (tick_option_computation(5, 13, black_scholes(100.0, 100.0, 0.5, 0.3, "C")), 12),
        (pnl.pnl_single(5, _VALUED), 7),
        (pnl.pnl(5, [_VALUED]), 5),
    ],
)
def test_field_count(message: bytes, count: int) -> None:
    assert len(_fields(message)) == count


def test_a_stock_in_the_portfolio_has_right_0_like_the_real_gateway() -> None:
    fields = _fields(outgoing.portfolio_value(_STOCK_POSITION, _STOCK, _VALUED))
    assert fields[7] == "0"
