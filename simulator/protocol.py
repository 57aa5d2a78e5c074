"""TWS API message ids, tick types and error texts the simulated gateway uses (server version 176)."""

from enum import IntEnum

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157


class In(IntEnum):
    """Client -> server message ids the simulator understands."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DETAILS = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    CANCEL_ACCOUNT_SUMMARY = 63
    CANCEL_POSITIONS = 64
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    CANCEL_ACCOUNT_UPDATES_MULTI = 77
    REQ_PNL = 92
    CANCEL_PNL = 93
    REQ_PNL_SINGLE = 94
    CANCEL_PNL_SINGLE = 95
    REQ_COMPLETED_ORDERS = 99


class Out(IntEnum):
    """Server -> client message ids the simulator sends."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ERROR = 4
    ACCOUNT_VALUE = 6
    PORTFOLIO_VALUE = 7
    ACCOUNT_UPDATE_TIME = 8
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    MANAGED_ACCOUNTS = 15
    TICK_OPTION_COMPUTATION = 21
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCOUNT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    POSITION = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    PNL = 94
    PNL_SINGLE = 95
    COMPLETED_ORDERS_END = 102


class Tick(IntEnum):
    """Live tick types; a delayed subscription (market data type 3 or 4) uses `delayed()` instead."""

    BID_SIZE = 0
    BID = 1
    ASK = 2
    ASK_SIZE = 3
    LAST = 4
    LAST_SIZE = 5
    VOLUME = 8
    CLOSE = 9

    def delayed(self) -> int:
        """The delayed counterpart IB sends for this tick type (BID -> 66, ..., CLOSE -> 75)."""
        return _DELAYED[self]


_DELAYED = {
    Tick.BID: 66,
    Tick.ASK: 67,
    Tick.LAST: 68,
    Tick.BID_SIZE: 69,
    Tick.ASK_SIZE: 70,
    Tick.LAST_SIZE: 71,
    Tick.VOLUME: 74,
    Tick.CLOSE: 75,
}

NO_REQUEST = -1
"""The reqId of a notice that belongs to no request (farm status, connectivity)."""

ERROR_TEXT = {
    100: "Max rate of messages per second has been exceeded.",
    101: "Max number of tickers has been reached.",
    200: "No security definition has been found for the request",
    201: "Order rejected - reason:The simulated gateway accepts no orders.",
    321: "Error validating request.-'bW' : cause - Please enter exchange",
    322: "Error processing request.-'bW' : cause - Duplicate ticker id",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    354: "Requested market data is not subscribed.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2157: "Sec-def data farm connection is broken:secdefnj",
    2158: "Sec-def data farm connection is OK:secdefnj",
    10089: "Requested market data requires additional subscription for API. "
    "See link in 'Market Data Connections' dialog for more details.",
    10090: "Part of requested market data is not subscribed. "
    "Subscription-independent ticks are still active.",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10168: "Requested market data is not subscribed. Delayed market data is not enabled.",
    10197: "No market data during competing live session",
}

FARM_OK_NOTICES = (2104, 2106, 2158)
"""The notices a real gateway sends right after startApi."""


def error_text(code: int) -> str:
    """IB's text for an error code, or a generic one for codes the simulator does not know."""
    return ERROR_TEXT.get(code, f"Simulated error {code}")
