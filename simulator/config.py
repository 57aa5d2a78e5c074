"""The simulated gateway's settings: one frozen struct, checked when it is built."""

import math
import re
from datetime import date
from typing import Any

import msgspec

HOST = "127.0.0.1"
"""The simulator binds loopback only: it is a test and demo tool, never a network service."""

_ACCOUNT = re.compile(r"^[A-Za-z0-9]+$")
_SEC_TYPE = re.compile(r"^[A-Z]+$")
_MAX_OFFSET_S = 10 * 366 * 86400.0

DEMO_NO_LIVE_FRACTION = 0.1
"""The share of a demo portfolio's contracts without live permission (delayed data available), as a
paper account without every exchange subscription has; `SimulatorConfig.demo()` uses it."""


class SimulatorConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How the simulated IB Gateway behaves; every bad value raises ValueError naming the field and the fix.

    `port=0` / `admin_port=0` pick a free port; `admin_port=None` runs no admin endpoint.
    `positions` is the number of demo positions per account; `max_lines` the market-data line limit;
    `tick_hz` the ticks per second sent for each streaming subscription, in `tick_slots` evenly spaced
    writes per cycle (1: all subscriptions' ticks in one write, a burst); `snapshot_hold` how long (s) a
    snapshot request holds its line before tickSnapshotEnd; `max_msg_rate` the client messages per
    second above which a client gets error 100; `pnl_interval` the seconds between two answers to a P&L
    subscription (IB: about one); `seed` makes the portfolio and the prices reproducible;
    option expiries are listed after `as_of` (None: today), so a seed and a date fix the portfolio.

    Market data permissions (see README.md): contracts of the `no_live_sec_types` (e.g. ("OPT",)) and a
    `no_live_fraction` of the others, drawn per conid from `seed`, have no live permission; delayed data
    is available for every contract unless `delayed_data` is False. `hours=True` opens and closes each
    market by its trading hours (False: every market is always open); `clock_offset_s` shifts the
    simulator's clock (currentTime, trading hours) from the real time.
    """

    port: int = 0
    admin_port: int | None = None
    accounts: tuple[str, ...] = ("DU111111",)
    positions: int = 40
    max_lines: int = 100
    tick_hz: float = 4.0
    tick_slots: int = 1
    snapshot_hold: float = 0.2
    max_msg_rate: int = 50
    pnl_interval: float = 1.0
    seed: int = 1
    as_of: date | None = None
    no_live_sec_types: tuple[str, ...] = ()
    no_live_fraction: float = 0.0
    delayed_data: bool = True
    hours: bool = False
    clock_offset_s: float = 0.0

    @classmethod
    def demo(cls, **overrides: Any) -> "SimulatorConfig":
        """A demo config: `DEMO_NO_LIVE_FRACTION` of the contracts lack live permission, unless overridden."""
        return cls(**{"no_live_fraction": DEMO_NO_LIVE_FRACTION, **overrides})

    def __post_init__(self) -> None:
        for name in ("port", "admin_port"):
            value = getattr(self, name)
            _require(value is None or 0 <= value <= 65535, name, value, "use 0..65535 (0 picks a free port)")
        if not self.accounts:
            raise ValueError("accounts is empty: give at least one account id, e.g. ('DU111111',)")
        for account in self.accounts:
            if not _ACCOUNT.match(account):
                raise ValueError(f"account {account!r} is not an IB account id: use letters and digits only")
        if len(set(self.accounts)) != len(self.accounts):
            raise ValueError(f"accounts {self.accounts} repeat an account id: list each account once")
        _require(0 <= self.positions <= 5000, "positions", self.positions, "use 0..5000 per account")
        _require(self.max_lines >= 0, "max_lines", self.max_lines, "use 0 or more lines")
        _require(0 < self.tick_hz <= 1000, "tick_hz", self.tick_hz, "use a rate in (0, 1000] ticks/s")
        _require(1 <= self.tick_slots <= 1000, "tick_slots", self.tick_slots, "use 1..1000 writes per cycle")
        _require(0 <= self.snapshot_hold <= 60, "snapshot_hold", self.snapshot_hold, "use 0..60 seconds")
        _require(self.max_msg_rate > 0, "max_msg_rate", self.max_msg_rate, "use 1 or more messages/s")
        _require(0 < self.pnl_interval <= 60, "pnl_interval", self.pnl_interval, "use (0, 60] seconds")
        _check_market_data(self)


def _check_market_data(config: SimulatorConfig) -> None:
    """The market-data permission and clock settings (ValueError naming a bad one)."""
    for sec_type in config.no_live_sec_types:
        if not _SEC_TYPE.match(sec_type):
            raise ValueError(f"no_live_sec_types has {sec_type!r}: use IB security types, e.g. 'STK', 'OPT'")
    fraction = config.no_live_fraction
    _require(0 <= fraction <= 1, "no_live_fraction", fraction, "use a share in [0, 1]")
    offset = config.clock_offset_s
    ok = math.isfinite(offset) and abs(offset) <= _MAX_OFFSET_S
    _require(ok, "clock_offset_s", offset, "use seconds within +-10 years")


def _require(ok: bool, name: str, value: object, fix: str) -> None:
    """Raise a ValueError naming the field, its bad value and the fix unless `ok`."""
    if not ok:
        raise ValueError(f"{name}={value!r} is out of range: {fix}")
