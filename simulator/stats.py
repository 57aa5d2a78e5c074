"""What the simulator counts, and the stats snapshot it reports (`Simulator.stats()`, `GET /stats`)."""

from collections import Counter
from dataclasses import dataclass, field

import msgspec


@dataclass
class Counters:
    """Running totals that survive a simulated gateway restart (owned by the event loop)."""

    requests: Counter[int] = field(default_factory=Counter)
    orders: int = 0
    refused_101: int = 0
    pacing_violations: int = 0
    connections: int = 0
    bad_clients: int = 0
    snapshots: int = 0
    refusals: Counter[int] = field(default_factory=Counter)
    data_warnings: Counter[int] = field(default_factory=Counter)


class SimulatorStats(msgspec.Struct, frozen=True, kw_only=True):
    """A consistent snapshot of the simulator.

    `clients`: API clients past startApi; `sockets`: open TCP connections (handshaking ones too);
    `subscriptions`: market-data lines held now (`peak_lines`: the most at once since start; `snapshots`:
    reqMktData requests for a snapshot, refused ones included); `requests`: messages received by message id;
    `orders`: placeOrder messages received; `refused_101`: subscriptions refused at the line limit;
    `pacing_violations`: messages above the allowed rate; `bad_clients`: connections dropped for not
    speaking the protocol; `ticks_sent`/`pump_cycles`/`pump_max_lag` describe the tick pump.
    `refusals`: reqMktData refused, by error code (101, 200, 321, 322, 354, 10168, 10197): none holds a
    line; `data_warnings`: market-data notices about served or held subscriptions, by code (10090,
    10167, and 10197 to subscriptions a competing live session silenced); `competing_session`: whether
    one is on; `market`: every market's mode (`open`, `closed` or `hours`, per-conid modes aside).
    `pnl_single_subscriptions` / `pnl_subscriptions`: reqPnLSingle / reqPnL subscriptions held now;
    `position_clients`: client ids subscribed to positions (reqPositions); `account_update_clients`:
    client id -> the account its reqAccountUpdates subscribes (1101 empties all four).
    """

    running: bool
    clients: int
    client_ids: list[int]
    sockets: int
    subscriptions: int
    max_lines: int
    requests: dict[int, int]
    orders: int
    refused_101: int
    pacing_violations: int
    connections: int
    bad_clients: int
    paused: bool
    streaming_halted: bool
    ticks_sent: int
    pump_cycles: int
    pump_max_lag: float
    peak_lines: int = 0
    snapshots: int = 0
    refusals: dict[int, int] = msgspec.field(default_factory=dict)
    data_warnings: dict[int, int] = msgspec.field(default_factory=dict)
    competing_session: bool = False
    market: str = "open"
    pnl_single_subscriptions: int = 0
    pnl_subscriptions: int = 0
    position_clients: list[int] = []
    account_update_clients: dict[int, str] = {}
