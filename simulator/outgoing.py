"""Every server -> client message the simulator sends, framed, with the exact field counts of version 176."""

from possync.simulator.instruments import DemoContract
from possync.simulator.portfolio import DemoPosition
from possync.simulator.pricing import Valuation
from possync.simulator.protocol import Out
from possync.simulator.wire import Field, frame

_STOCK_EXCHANGES = "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,IEX,PEARL"
_OPTION_EXCHANGES = "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,CBOE2,MIAX,GEMINI,EMERALD,PEARL"
_ORDER_TYPES = "ACTIVETIM,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,DAY,GTC,LMT,MKT,STP,STPLMT,TRAIL"


def error(req_id: int, code: int, text: str) -> bytes:
    """An error or notice (6 fields at version >= 166, the last being advancedOrderRejectJson)."""
    return frame(Out.ERROR, 2, req_id, code, text, "")


def next_valid_id(order_id: int) -> bytes:
    """The next valid order id; half of what makes the client ready."""
    return frame(Out.NEXT_VALID_ID, 1, order_id)


def managed_accounts(accounts: tuple[str, ...]) -> bytes:
    """The comma-separated account list; the other half of what makes the client ready."""
    return frame(Out.MANAGED_ACCOUNTS, 1, ",".join(accounts))


def current_time(epoch_seconds: int) -> bytes:
    """The gateway's clock."""
    return frame(Out.CURRENT_TIME, 1, epoch_seconds)


def _contract(contract: DemoContract, right: str) -> tuple[Field, ...]:
    """The 11 contract fields that positions and portfolio items share, in their order."""
    return (
        contract.conid,
        contract.symbol,
        contract.sec_type,
        contract.expiry,
        contract.strike,
        right,
        contract.multiplier,
        contract.primary_exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,
    )


def position(pos: DemoPosition, contract: DemoContract) -> bytes:
    """One position of the positions subscription (16 fields)."""
    return frame(
        Out.POSITION, 3, pos.account, *_contract(contract, contract.right), pos.position, pos.avg_cost
    )


def position_end() -> bytes:
    """The end of the initial positions download; changes keep coming after it."""
    return frame(Out.POSITION_END, 1)


def account_value(account: str, tag: str, value: str, currency: str) -> bytes:
    """One account value of the account-updates subscription."""
    return frame(Out.ACCOUNT_VALUE, 2, tag, value, currency, account)


def portfolio_value(pos: DemoPosition, contract: DemoContract, valued: Valuation) -> bytes:
    """One portfolio item of the account-updates subscription (20 fields), valued as pnlSingle values it
    (pricing.py; realized 0 when nothing was closed today). Like the real gateway, a stock's right goes
    out as "0"."""
    return frame(
        Out.PORTFOLIO_VALUE,
        8,
        *_contract(contract, contract.right or "0"),
        pos.position,
        valued.price,
        valued.value,
        pos.avg_cost,
        valued.unrealized,
        valued.realized or 0.0,
        pos.account,
    )


def account_update_time(hhmm: str) -> bytes:
    """The time of the last account update, `HH:MM`."""
    return frame(Out.ACCOUNT_UPDATE_TIME, 1, hhmm)


def account_download_end(account: str) -> bytes:
    """The end of an account-updates download."""
    return frame(Out.ACCOUNT_DOWNLOAD_END, 1, account)


def account_update_multi(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    """One account value of a per-account (multi) subscription, model code blank."""
    return frame(Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", tag, value, currency)


def account_update_multi_end(req_id: int) -> bytes:
    """The end of a per-account (multi) download."""
    return frame(Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id)


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    """One account summary value."""
    return frame(Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency)


def account_summary_end(req_id: int) -> bytes:
    """The end of an account summary."""
    return frame(Out.ACCOUNT_SUMMARY_END, 1, req_id)


def open_order_end() -> bytes:
    """The end of the (always empty) open orders list."""
    return frame(Out.OPEN_ORDER_END, 1)


def completed_orders_end() -> bytes:
    """The end of the (always empty) completed orders list: the id alone."""
    return frame(Out.COMPLETED_ORDERS_END)


def execution_data_end(req_id: int) -> bytes:
    """The end of the (always empty) executions list; `IB.connect()` waits for it."""
    return frame(Out.EXECUTION_DATA_END, 1, req_id)


def contract_data(
    req_id: int, contract: DemoContract, exchange: str, hours: tuple[str, str, str] = ("US/Eastern", "", "")
) -> bytes:
    """One contract's details in the version >= 164 layout, no security ids; `hours` are timeZoneId,
    tradingHours and liquidHours."""
    is_option = contract.sec_type == "OPT"
    return frame(
        Out.CONTRACT_DATA,
        req_id,
        contract.symbol,
        contract.sec_type,
        contract.expiry,
        contract.strike,
        contract.right,
        exchange,
        contract.currency,
        contract.local_symbol,
        contract.trading_class,  # marketName
        contract.trading_class,
        contract.conid,
        0.01,  # minTick
        contract.multiplier,
        _ORDER_TYPES,
        _OPTION_EXCHANGES if is_option else _STOCK_EXCHANGES,
        1,  # priceMagnifier
        contract.under_conid,
        contract.long_name,
        contract.primary_exchange,
        contract.expiry[:6],  # contractMonth
        "",  # industry
        "",  # category
        "",  # subcategory
        *hours,  # timeZoneId, tradingHours, liquidHours
        "",  # evRule
        "",  # evMultiplier
        0,  # numSecIds
        1 if is_option else 2,  # aggGroup
        contract.symbol if is_option else "",  # underSymbol
        "STK" if is_option else "",  # underSecType
        "26" if is_option else "26,26,26,26,26,26,26,26,26,26,26,26,26,26,26",  # marketRuleIds
        contract.expiry,  # realExpirationDate
        "" if is_option else "COMMON",  # stockType
        1,  # minSize
        1,  # sizeIncrement
        1 if is_option else 100,  # suggestedSizeIncrement
    )


def contract_data_end(req_id: int) -> bytes:
    """The end of a contract details request."""
    return frame(Out.CONTRACT_DATA_END, 1, req_id)


def tick_price(req_id: int, tick_type: int, price: float, size: float) -> bytes:
    """A price tick with its size and no attributes (7 fields)."""
    return frame(Out.TICK_PRICE, 6, req_id, tick_type, price, size, 0)


def tick_size(req_id: int, tick_type: int, size: float) -> bytes:
    """A size tick."""
    return frame(Out.TICK_SIZE, 6, req_id, tick_type, size)


def tick_snapshot_end(req_id: int) -> bytes:
    """The end of a snapshot request."""
    return frame(Out.TICK_SNAPSHOT_END, 1, req_id)


def market_data_type(req_id: int, data_type: int) -> bytes:
    """Which kind of data (1 live, 2 frozen, 3 delayed, 4 delayed frozen) a subscription gets."""
    return frame(Out.MARKET_DATA_TYPE, 1, req_id, data_type)
